"""Rating's subscribers: decode, call one use case."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.provisioning import FeatureProvisionedV1, FeatureRemovedV1
from services.rating import service


async def on_provisioning_event(conn: asyncpg.Connection, envelope: Envelope, payload: Contract) -> None:
    if isinstance(payload, FeatureProvisionedV1):
        await service.record_feature_provisioned(conn, envelope, payload)
    elif isinstance(payload, FeatureRemovedV1):
        await service.record_feature_removed(conn, envelope, payload)
