"""The disputes service's SQL (its own schema, on the search path), on the caller's connection."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import asyncpg

from services.disputes import domain

# first opening wins: a replayed AccountOpened changes nothing
INSERT_ACCOUNTS = """
INSERT INTO accounts (account_id, parent_account_id)
SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT (account_id) DO NOTHING
"""

# an invoice is issued once; a replayed InvoiceIssued changes nothing
INSERT_INVOICES = """
INSERT INTO invoices (invoice_number, account_id, issuer, currency, total, line_count, issue_date, due_date,
                      issued_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::int[], $7::date[],
                     $8::date[], $9::timestamptz[])
ON CONFLICT (invoice_number) DO NOTHING
"""

# the invoice's row lock serialises the opens of one invoice: each sees the others' amounts
# (amount_exceeds_disputable) and a concurrent open of the same dispute id
LOCK_INVOICE = "SELECT * FROM invoices WHERE invoice_number = $1 FOR UPDATE"
INVOICE_ACCOUNT = "SELECT account_id FROM invoices WHERE invoice_number = $1"

GET_DISPUTE = "SELECT * FROM disputes WHERE dispute_id = $1"
LOCK_DISPUTE = "SELECT * FROM disputes WHERE dispute_id = $1 FOR UPDATE"
INVOICE_DISPUTES = "SELECT * FROM disputes WHERE invoice_number = $1 ORDER BY received_at, dispute_id"
ACCOUNT_DISPUTES = "SELECT * FROM disputes WHERE account_id = $1 ORDER BY received_at, dispute_id"

# the primary key decides between concurrent opens of one id on different invoices
INSERT_DISPUTE = """
INSERT INTO disputes (dispute_id, invoice_number, account_id, issuer, currency, amount, reason, lines,
                      received_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (dispute_id) DO NOTHING
RETURNING dispute_id
"""

# `outcome IS NULL`: a dispute is resolved once, whatever races past the row lock
RESOLVE = """
UPDATE disputes SET outcome = $2, credited = $3, resolved_at = $4, late = $5
WHERE dispute_id = $1 AND outcome IS NULL
RETURNING dispute_id
"""

# open disputes past their deadline (strictly) not announced yet; SKIP LOCKED lets replicas share
OVERDUE_CANDIDATES = """
SELECT * FROM disputes
WHERE outcome IS NULL AND overdue_at IS NULL AND due_at < $1
ORDER BY due_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
MARK_OVERDUE = """
UPDATE disputes SET overdue_at = $2
WHERE dispute_id = ANY($1::text[]) AND outcome IS NULL AND overdue_at IS NULL
RETURNING dispute_id
"""

GET_CALENDAR = "SELECT * FROM calendars WHERE issuer = $1"
UPSERT_CALENDAR = """
INSERT INTO calendars (issuer, time_zone, holidays, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (issuer) DO UPDATE SET time_zone = EXCLUDED.time_zone, holidays = EXCLUDED.holidays,
                                   updated_at = EXCLUDED.updated_at
"""


async def insert_accounts(conn: asyncpg.Connection, rows: list[tuple[str, str | None]]) -> None:
    if rows:
        await conn.execute(INSERT_ACCOUNTS, *map(list, zip(*rows)))


async def insert_invoices(conn: asyncpg.Connection,
                          rows: list[tuple[str, str, str, str, Decimal, int, date, date, datetime]]) -> None:
    if rows:
        await conn.execute(INSERT_INVOICES, *map(list, zip(*rows)))


async def calendar_of(conn: asyncpg.Connection, issuer: str) -> domain.IssuerCalendar:
    """The issuer's calendar, or the default one (UTC, no holidays) when it never set one."""
    row = await conn.fetchrow(GET_CALENDAR, issuer)
    if row is None:
        return domain.DEFAULT_CALENDAR
    return domain.IssuerCalendar.of(row["time_zone"], row["holidays"])


def to_dispute(row: asyncpg.Record) -> domain.Dispute:
    return domain.Dispute(
        dispute_id=row["dispute_id"], invoice_number=row["invoice_number"], account_id=row["account_id"],
        issuer=row["issuer"], currency=row["currency"], amount=row["amount"], reason=row["reason"],
        received_at=row["received_at"], due_at=row["due_at"], lines=tuple(row["lines"]), outcome=row["outcome"],
        credited=row["credited"], resolved_at=row["resolved_at"], late=row["late"])


def invoice_facts(invoice: asyncpg.Record, disputes: list[domain.Dispute]) -> domain.InvoiceFacts:
    """Disputes knows every credit note of an invoice: each is an upheld dispute's credited amount."""
    credited = sum((d.credited or Decimal(0) for d in disputes if d.outcome == "upheld"), Decimal(0))
    return domain.InvoiceFacts(invoice["invoice_number"], invoice["account_id"], invoice["issuer"],
                               invoice["currency"], invoice["total"] - credited, invoice["line_count"])
