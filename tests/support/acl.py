"""Kafka principals and their ACLs under test: deploy/local's passwords, each principal's client
security, the admin's configuration for shared.kafka_acl, and whether an ACL is in force."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka_security import KafkaSecurity


def secrets_of(infra, *names: str) -> Path:
    """The folder of deploy/local's passwords, or a skip when `names` were not made there."""
    if infra.secrets is None or not all((infra.secrets / f"{n}.password").exists() for n in names):
        pytest.skip("needs deploy/local's roles and principals (deploy/local/infra.sh up)")
    return infra.secrets


def principal_security(infra, principal: str) -> KafkaSecurity:
    """The Kafka client security of `principal` (its SCRAM password from deploy/local)."""
    secrets = secrets_of(infra, f"kafka-{principal}")
    if not KafkaSecurity.from_env().sasl:
        pytest.skip("the broker takes unauthenticated clients")
    return KafkaSecurity(protocol="SASL_PLAINTEXT", username=principal,
                         password=(secrets / f"kafka-{principal}.password").read_text().strip())


def admin_config(infra) -> dict[str, str]:
    """librdkafka's configuration of the admin principal (for shared.kafka_acl)."""
    return {"bootstrap.servers": infra.kafka, **KafkaSecurity.from_env().librdkafka()}


async def principal_sees(infra, principal: str, topic: str) -> bool:
    """Whether `principal` may see `topic` (its ACLs are in force)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **principal_security(infra, principal).aiokafka())
    await admin.start()
    try:
        return topic in await admin.list_topics()
    finally:
        await admin.close()
