"""Disputes' subscribers: decode, call one use case. (HTTP routes live in api.py.)"""

from __future__ import annotations

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.invoicing import InvoiceIssuedV1
from contracts.provisioning import AccountOpenedV1
from services.disputes import service
from shared.runtime import ServiceRuntime

Batch = list[tuple[Envelope, Contract]]


async def on_provisioning_events(conn: asyncpg.Connection, batch: Batch) -> None:
    await service.learn_accounts(conn, [p for _, p in batch if isinstance(p, AccountOpenedV1)])


async def on_invoicing_events(conn: asyncpg.Connection, batch: Batch) -> None:
    await service.learn_invoices(conn, [(e, p) for e, p in batch if isinstance(p, InvoiceIssuedV1)])


def on_commands(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, envelope: Envelope, command: Contract) -> None:
        await service.on_command(conn, runtime.settings, envelope, command, runtime.clock.now())

    return handle
