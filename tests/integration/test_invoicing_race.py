"""Two replicas issuing the same account's charges at once (a redelivery after a rebalance): the
second one waits on the issuer's counter, its COPY then fails the unique (account, month) and it
issues its batch again charge by charge: one invoice, no number skipped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contracts.charges import expand, parse_lean
from contracts.registry import parse
from services.invoicing import service
from shared import db as kit_db
from shared.settings import Settings
from tests.support.invoicing import T0, charges, opened

pytestmark = pytest.mark.infra
MIGRATIONS = Path(service.__file__).parent / "migrations"


async def test_a_racing_replica_issues_nothing_twice_and_skips_no_number(infra, namespace, db):
    schema = f"{namespace}invoicing"
    await kit_db.migrate_dsn(infra.database_url, schema, MIGRATIONS)
    pool = await kit_db.create_pool(infra.database_url, schema, 2, 2)
    settings = Settings(service="invoicing", topic_prefix=namespace)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await service.open_accounts(conn, settings, [(e, parse(e)) for e in
                                                         (opened("acct-a"), opened("acct-b"), opened("acct-c"))], T0)
            # the counter row exists: the racing replica waits on its lock, not on its creation
            # charges as invoicing's handler passes them on (each account's own, `expand`)
            assert await service.issue_invoices(conn, settings, expand([(e, parse_lean(e)) for e in
                                                                         [charges("r0", "acct-c", ["1.00"])]]), T0) == 1
        twice = expand([(e, parse_lean(e)) for e in (charges("r1", "acct-a", ["10.00"]), charges("r1", "acct-b", ["5.00"]))])
        first, second = await pool.acquire(), await pool.acquire()
        try:
            async with first.transaction():
                assert await service.issue_invoices(first, settings, twice[:1], T0) == 1
                racing = asyncio.create_task(_issue_in_transaction(second, settings, twice))
                await asyncio.sleep(0.3)  # the second one is waiting on the counter row by now
                assert not racing.done()
            assert await racing == 1  # acct-b only: acct-a's invoice committed first
        finally:
            await pool.release(first)
            await pool.release(second)
        rows = await db.fetch(f"SELECT account_id, invoice_number FROM {schema}.invoices ORDER BY 2")
        assert [(r["account_id"], r["invoice_number"]) for r in rows] == [
            ("acct-c", "PLATFORM-000001"), ("acct-a", "PLATFORM-000002"), ("acct-b", "PLATFORM-000003")]
        assert await db.fetchval(f"SELECT last_number FROM {schema}.number_sequences") == 3
        assert await db.fetchval(f"SELECT count(*) FROM {schema}.outbox") == 3
        assert await db.fetchval(f"SELECT count(*) FROM {schema}.quarantined_charges") == 0
    finally:
        await pool.close()


async def _issue_in_transaction(conn, settings, batch) -> int:
    async with conn.transaction():
        return await service.issue_invoices(conn, settings, batch, T0)
