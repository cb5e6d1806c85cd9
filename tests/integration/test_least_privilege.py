"""Least privilege on the real database and broker: a service's PostgreSQL role reaches only its
own schema, and a Kafka principal produces only the topics its ACLs name (deploy/local's roles,
principals and passwords; skipped where the infrastructure has none, e.g. testcontainers)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from contracts import topics
from shared import db as kit_db
from shared.kafka import ensure_topics
from shared.kafka_acl import INTEGRATION, apply, prune, revoke
from tests.support.acl import admin_config, principal_security, principal_sees, secrets_of
from tests.support.kafka import publish, read_all
from tests.support.polling import eventually

pytestmark = pytest.mark.infra
ROOT = Path(__file__).resolve().parents[2]


async def _connect_as(infra, role: str) -> asyncpg.Connection:
    password = (infra.secrets / f"postgres-{role}.password").read_text().strip()
    return await asyncpg.connect(infra.role_url(role), password=password)


# ---------------------------------------------------------------- PostgreSQL
async def test_a_service_role_reaches_only_its_own_schema(infra, namespace, db):
    secrets_of(infra, "postgres-rating", "postgres-invoicing")
    rating, invoicing = await _connect_as(infra, "rating"), await _connect_as(infra, "invoicing")
    try:
        # each role creates (so owns) its schema, as a service does at start: here prefixed copies
        await kit_db.migrate(rating, f"{namespace}rating", ROOT / "services/rating/migrations")
        await kit_db.migrate(invoicing, f"{namespace}invoicing", ROOT / "services/invoicing/migrations")
        assert await rating.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
        assert await rating.fetchval("SELECT count(*) FROM {}rating.outbox".format(namespace)) == 0

        other = f"{namespace}invoicing"
        forbidden = [
            f"SELECT * FROM {other}.outbox",
            f"INSERT INTO {other}.outbox (topic, key, event_id, event_type, payload) "
            f"VALUES ('rating.charges', 'acme', gen_random_uuid(), 'rating.charges.rated', '\\x00')",
            f"DELETE FROM {other}.inbox",
            f"CREATE TABLE {other}.planted (id int)",
            f"DROP TABLE {other}.outbox",
            f"ALTER SCHEMA {other} OWNER TO rating",
            "CREATE ROLE intruder LOGIN SUPERUSER",
        ]
        for statement in forbidden:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await rating.execute(statement)
        # nor can it lend itself another's privileges
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await rating.execute("SET ROLE invoicing")
        assert await invoicing.fetchval(f"SELECT count(*) FROM {other}.outbox") == 0
    finally:
        await rating.close()
        await invoicing.close()


async def test_tcp_connections_need_the_password(infra):
    secrets_of(infra, "postgres-rating")
    for password in ("", "wrong", "\u0000" * 3, "x" * 10_000):
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError,
                            ValueError)):
            await asyncpg.connect(infra.role_url("rating"), password=password or None, timeout=10)


# ---------------------------------------------------------------- Kafka
@pytest.fixture
async def granted(infra, namespace, db):
    """The namespace's topics, and ACLs for its copies for rating, invoicing and the integrations
    (literal ACLs name `<namespace>rating.charges`, not the platform's `rating.charges`)."""
    principal_security(infra, "rating")
    principals = ["rating", "invoicing", INTEGRATION]
    await ensure_topics(infra.kafka, topics.ALL, namespace, ["rating", "invoicing"])
    await asyncio.to_thread(apply, admin_config(infra), principals, namespace)
    # the broker applies new ACLs a moment after the controller committed them
    for principal in principals:
        await eventually(lambda: principal_sees(infra, principal, f"{namespace}usage.records"), timeout=30,
                         what=f"{principal}'s ACLs in force")
    yield namespace
    await asyncio.to_thread(revoke, admin_config(infra), principals, namespace)


async def _produce(infra, principal: str, topic: str, value: bytes) -> None:
    await publish(infra.kafka, topic, [(b"acme", value)], security=principal_security(infra, principal).aiokafka(),
                  request_timeout_ms=10_000)


async def test_only_rating_may_produce_charges(infra, granted):
    charges = f"{granted}rating.charges"
    forged = b'{"type": "rating.charges.rated", "forged": true}'
    for intruder in ("invoicing", INTEGRATION):
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(infra, intruder, charges, forged)
    await _produce(infra, "rating", charges, b'{"type": "rating.charges.rated"}')
    await _produce(infra, INTEGRATION, f"{granted}usage.records", b"{}")
    # the broker kept rating's record only
    records = await read_all(infra.kafka, charges, expect=2, timeout=5)
    assert [r.value for r in records] == [b'{"type": "rating.charges.rated"}']


async def test_a_principal_reads_only_with_its_own_group(infra, granted):
    security = principal_security(infra, "invoicing")
    for group, topic, refused in ((f"{granted}rating", f"{granted}rating.charges", GroupAuthorizationFailedError),
                                  (f"{granted}invoicing", f"{granted}platform.users", TopicAuthorizationFailedError)):
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.kafka, group_id=group,
                                    auto_offset_reset="earliest", **security.aiokafka())
        try:
            with pytest.raises(refused):
                await consumer.start()
                await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()


async def _listed(admin, binding) -> bool:
    """Whether describing the binding's principal lists it (the broker applies grants a moment later)."""
    from confluent_kafka.admin import AclBindingFilter

    found = await asyncio.to_thread(lambda: admin.describe_acls(AclBindingFilter(
        binding.restype, binding.name, binding.resource_pattern_type, binding.principal, binding.host,
        binding.operation, binding.permission_type)).result(30))
    return bool(found)


async def test_a_stray_grant_is_pruned(infra, granted):
    """An ACL the table no longer gives (here: invoicing allowed to write charges) is removed."""
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                       ResourcePatternType, ResourceType)

    admin = AdminClient(admin_config(infra))
    stray = AclBinding(ResourceType.TOPIC, f"{granted}rating.charges", ResourcePatternType.LITERAL,
                       "User:invoicing", "*", AclOperation.WRITE, AclPermissionType.ALLOW)
    for future in admin.create_acls([stray]).values():
        future.result(30)
    # the broker lists a committed grant a moment later: prune from when it is there to be found
    await eventually(lambda: _listed(admin, stray), timeout=30, what="the stray grant listed")
    removed = await asyncio.to_thread(prune, admin_config(infra), ["invoicing", "rating"], granted)
    assert removed == [f"User:invoicing WRITE TOPIC {granted}rating.charges"]
    assert await asyncio.to_thread(prune, admin_config(infra), ["invoicing", "rating"], granted) == []


async def test_rating_runs_with_its_own_principal_and_role(infra, granted, services, db):
    """Its ACLs are enough to start, join its group, and dead-letter a poison message."""
    security = principal_security(infra, "rating")
    proc = services("rating", KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="rating",
                    KAFKA_SASL_PASSWORD=security.password, KAFKA_SASL_PASSWORD_FILE="")
    poison = f"poison-{uuid.uuid4()}".encode()
    await _produce(infra, INTEGRATION, f"{granted}usage.records", poison)

    async def dead_lettered():
        records = await read_all(infra.kafka, f"{granted}rating.dead-letter", expect=1, timeout=2)
        return any(r.value == poison for r in records)

    await eventually(dead_lettered, timeout=60)
    assert "not authorized" not in proc.log().lower()
    owner = "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1"
    assert await db.fetchval(owner, f"{granted}rating") == "rating"


async def test_a_service_run_as_a_superuser_says_so(services):
    proc = services("provisioning", without=("PROVISIONING_DATABASE_",))
    assert "provisioning connects to PostgreSQL as a superuser" in proc.log()
