"""Invoicing's quarantine SQL: charges whose invoice could not be issued, kept with the reason,
and the charges still waiting for an unknown account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from contracts.envelope import Envelope

SAVE = """
INSERT INTO quarantined_charges (run_id, account_id, month, currency, total, reason, error, envelope, at)
SELECT *, $9 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[],
                         $7::text[], $8::bytea[])
ON CONFLICT (run_id, account_id) DO UPDATE
SET reason = EXCLUDED.reason, error = EXCLUDED.error, at = EXCLUDED.at
"""
# what a run still has set aside, per currency (re-invoiced charges count as its invoices)
OPEN_OF_RUN = """
SELECT currency, count(*) AS n, sum(total) AS total FROM quarantined_charges
WHERE run_id = $1 AND resolved_at IS NULL GROUP BY currency
"""
OF_RUN = """
SELECT account_id, month, currency, total, reason, error, at, resolved_invoice, resolved_at
FROM quarantined_charges WHERE run_id = $1 ORDER BY account_id LIMIT 1000
"""
LIST = """
SELECT run_id, account_id, month, currency, total, reason, error, at, resolved_invoice, resolved_at
FROM quarantined_charges
WHERE ($1::text IS NULL OR month = $1) AND ($2::text IS NULL OR account_id = $2) AND ($3 OR resolved_at IS NULL)
ORDER BY resolved_at IS NOT NULL, at DESC, run_id, account_id LIMIT 500
"""
# the open entries of an account and month, locked: one re-invoice at a time
OPEN_FOR = """
SELECT * FROM quarantined_charges WHERE account_id = $1 AND month = $2 AND resolved_at IS NULL
ORDER BY at FOR UPDATE
"""
RESOLVE = """
UPDATE quarantined_charges SET resolved_invoice = $3, resolved_at = $4 WHERE run_id = $1 AND account_id = $2
"""
INVOICES_OF = "SELECT account_id, invoice_number FROM invoices WHERE account_id = ANY($1::text[]) AND month = $2"

# charges parked for an unknown account since before the cut-off: taken out to be quarantined
# (SKIP LOCKED: replicas expire side by side; the pending lock orders this against openings)
EXPIRE_PENDING = """
DELETE FROM pending_charges WHERE event_id IN (
    SELECT event_id FROM pending_charges WHERE parked_at < $1 ORDER BY parked_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING account_id, envelope, parked_at
"""
LIST_PENDING = """
SELECT event_id, account_id, parked_at FROM pending_charges ORDER BY parked_at, event_id LIMIT 500
"""


def _text(value: str) -> str:
    return value.replace("\x00", "\\x00")[:2000]  # PostgreSQL text holds no NUL


async def save(conn: asyncpg.Connection, items: Sequence[tuple[Envelope, object, str, str]], at: datetime) -> None:
    """Quarantine charges: (envelope, AccountChargesRatedV1 payload or its ChargesItem, reason, error) each."""
    if not items:
        return
    await conn.execute(SAVE, [_text(p.run_id) for _, p, _, _ in items], [_text(p.account_id) for _, p, _, _ in items],
                       [_text(p.month) for _, p, _, _ in items], [_text(p.currency) for _, p, _, _ in items],
                       [p.total for _, p, _, _ in items], [_text(r) for _, _, r, _ in items],
                       [_text(e) for _, _, _, e in items], [e.encode() for e, _, _, _ in items], at)


async def open_of_run(conn: asyncpg.Connection, run_id: str) -> dict[str, tuple[int, Decimal]]:
    return {r["currency"]: (r["n"], r["total"]) for r in await conn.fetch(OPEN_OF_RUN, run_id)}


async def of_run(conn: asyncpg.Connection, run_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(OF_RUN, run_id)


async def listing(conn: asyncpg.Connection, month: str | None, account_id: str | None,
                  resolved: bool) -> list[asyncpg.Record]:
    return await conn.fetch(LIST, month, account_id, resolved)


async def invoices_of(conn: asyncpg.Connection, account_ids: list[str], month: str) -> dict[str, str]:
    """Account id -> its invoice number for `month`, for those of `account_ids` that have one."""
    if not account_ids:
        return {}
    return {r["account_id"]: r["invoice_number"] for r in await conn.fetch(INVOICES_OF, account_ids, month)}
