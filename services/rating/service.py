"""Rating use cases: one async function per verb, run inside the subscriber's transaction."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from contracts.provisioning import FeatureProvisionedV1, FeatureRemovedV1
from services.rating import store


async def record_feature_provisioned(conn: asyncpg.Connection, envelope: Envelope,
                                     event: FeatureProvisionedV1) -> None:
    await store.add_subscription(conn, event.subscription_id, event.account_id, event.part_number,
                                 event.quantity, event.customer_id, event.at, envelope.event_id)


async def record_feature_removed(conn: asyncpg.Connection, envelope: Envelope,
                                 event: FeatureRemovedV1) -> None:
    await store.end_subscription(conn, event.subscription_id, event.at)
