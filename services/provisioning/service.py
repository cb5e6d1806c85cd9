"""Provisioning use cases: one async function per verb, one transaction each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import FeatureProvisionedV1, ProvisionFeatureV1
from contracts.topics import PROVISIONING_EVENTS
from services.provisioning import store
from shared import outbox
from shared.settings import Settings


@dataclass(frozen=True)
class Rejected(Exception):
    """A refused command: `reason` is a FORMAT.md reason code."""

    reason: str
    detail: str = ""


async def provision_feature(conn: asyncpg.Connection, settings: Settings, cmd: ProvisionFeatureV1,
                            now: datetime, cause: Envelope | None = None) -> FeatureProvisionedV1:
    """Start a feature subscription; its event goes to the outbox in the same transaction."""
    at = cmd.at or now
    async with conn.transaction():
        created = await store.insert_subscription(conn, cmd.subscription_id, cmd.account_id,
                                                  cmd.part_number, cmd.quantity, cmd.customer_id, at)
        if not created:
            raise Rejected("duplicate_subscription", f"subscription {cmd.subscription_id} exists")
        event = FeatureProvisionedV1(account_id=cmd.account_id, subscription_id=cmd.subscription_id,
                                     part_number=cmd.part_number, quantity=cmd.quantity,
                                     customer_id=cmd.customer_id, at=at)
        await outbox.add(conn, settings.topic(PROVISIONING_EVENTS.name), [
            wrap(event, key=cmd.account_id, producer=settings.service, occurred_at=now, cause=cause)
        ])
    return event
