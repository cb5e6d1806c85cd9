"""Invoicing's subscribers: decode, call one use case. (HTTP routes live in api.py.)"""

from __future__ import annotations

import asyncpg

from contracts import charges
from contracts.disputes import DisputeOpenedV1, DisputeResolvedV1
from contracts.envelope import Contract, Envelope
from contracts.provisioning import AccountOpenedV1
from contracts.rating import BillingRunRatedV1
from contracts.usage import UsageRecordedV1
from services.invoicing import credits, service
from shared.runtime import ServiceRuntime

Batch = list[tuple[Envelope, Contract]]


def on_provisioning_events(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        opened = [(e, p) for e, p in batch if isinstance(p, AccountOpenedV1)]
        await service.open_accounts(conn, runtime.settings, opened, runtime.clock.now())

    return handle


def on_rating_charges(runtime: ServiceRuntime):
    """Each account of a batch of charges (version 2, or 1 as a batch of one; decoded by
    `contracts.charges.decode_lean`) is invoiced as its own event (`contracts.charges.accounts`);
    the inbox claimed the batch's id once."""
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        rated = [(e, p) for e, p in charges.expand(batch, "invoice") if isinstance(p, charges.ChargesItem)]
        await service.issue_invoices(conn, runtime.settings, rated, runtime.clock.now())
        for _, p in batch:
            if isinstance(p, BillingRunRatedV1):
                await service.record_run_summary(conn, p)

    return handle


async def on_usage_records(conn: asyncpg.Connection, batch: Batch) -> None:
    await service.record_usage(conn, [(e, p) for e, p in batch if isinstance(p, UsageRecordedV1)])


def on_dispute_events(runtime: ServiceRuntime):
    """Opened disputes hold their amount back from the overdue amount; resolutions release it and
    issue credit notes and refunds (each once: dispute_holds, credit_notes and refunds are keyed
    by the dispute)."""
    async def handle(conn: asyncpg.Connection, batch: Batch) -> None:
        now = runtime.clock.now()
        # in order: an opening and its resolution may share a batch
        for envelope, payload in batch:
            if isinstance(payload, DisputeOpenedV1):
                await credits.hold_disputes(conn, runtime.settings, [(envelope, payload)], now)
            elif isinstance(payload, DisputeResolvedV1):
                await credits.resolve_disputes(conn, runtime.settings, [(envelope, payload)], now)

    return handle
