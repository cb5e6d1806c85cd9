"""Invoicing's subscribers: decode, call one use case. (HTTP routes live in api.py.)"""

from __future__ import annotations

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.provisioning import AccountOpenedV1
from contracts.rating import AccountChargesRatedV1, BillingRunRatedV1
from contracts.usage import UsageRecordedV1
from services.invoicing import service
from shared.runtime import ServiceRuntime

Batch = list[tuple[Envelope, Contract]]


def on_provisioning_events(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        opened = [(e, p) for e, p in batch if isinstance(p, AccountOpenedV1)]
        await service.open_accounts(conn, runtime.settings, opened, runtime.clock.now())

    return handle


def on_rating_charges(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        charges = [(e, p) for e, p in batch if isinstance(p, AccountChargesRatedV1)]
        await service.issue_invoices(conn, runtime.settings, charges, runtime.clock.now())
        for _, p in batch:
            if isinstance(p, BillingRunRatedV1):
                await service.record_run_summary(conn, p)

    return handle


async def on_usage_records(conn: asyncpg.Connection, batch: Batch) -> None:
    await service.record_usage(conn, [(e, p) for e, p in batch if isinstance(p, UsageRecordedV1)])
