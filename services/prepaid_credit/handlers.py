"""prepaid_credit's subscribers: decode, call one use case. (HTTP routes live in api.py.)"""

from __future__ import annotations

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.provisioning import AccountOpenedV1, AccountSettingsChangedV1
from contracts.topics import PREPAID_CREDIT_EVENTS
from services.prepaid_credit import service
from shared.runtime import ServiceRuntime

Batch = list[tuple[Envelope, Contract]]


def on_provisioning_events(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        opened = [(e, p) for e, p in batch if isinstance(p, AccountOpenedV1)]
        await service.open_accounts(conn, runtime.settings, opened, runtime.clock.now())
        await service.change_settings(conn, [p for _, p in batch if isinstance(p, AccountSettingsChangedV1)])

    return handle


def on_rating_charges(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        # where the notices' keys go: a batch's debits are told in one event per partition
        partitions = sorted(await runtime.producer.partitions_for(runtime.topic(PREPAID_CREDIT_EVENTS)))
        await service.apply_charges(conn, runtime.settings, batch, runtime.clock.now(), partitions)

    return handle
