"""Invoicing's SQL, on the caller's connection. Bulk statements take parallel arrays (unnest)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from decimal import Decimal

import asyncpg

# ------------------------------------------------------------------ accounts
# first AccountOpened wins: a redelivery or a replay changes nothing
INSERT_ACCOUNTS = """
INSERT INTO accounts (account_id, parent_account_id, issuer, time_zone, mode, currency,
                      payment_terms_days, opened_at, automatic_runs)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::int[], $8::timestamptz[], $9::boolean[])
ON CONFLICT (account_id) DO NOTHING
"""

ACCOUNTS_BY_ID = "SELECT * FROM accounts WHERE account_id = ANY($1::text[])"
# issuing reads the issuer only (a whole row's decoding costs 1.5 µs more an invoice)
ISSUERS_OF = "SELECT account_id, issuer FROM accounts WHERE account_id = ANY($1::text[])"

# the SQL only narrows the candidates (accounts not yet requested for the UTC month or the next
# one); domain.runs_due decides, in each account's zone. Accounts without automatic runs are
# billed on an operator's request only. One page at a time, by account id after $2 (keyset): a
# tick over a million accounts holds a page of them, not all.
ACCOUNTS_MAYBE_DUE = """
SELECT account_id, time_zone, opened_at, last_requested_month FROM accounts
WHERE automatic_runs AND (last_requested_month IS NULL OR last_requested_month < $1) AND account_id > $2
ORDER BY account_id LIMIT $3
"""

MARK_REQUESTED = """
UPDATE accounts a SET last_requested_month = $2
WHERE a.account_id = ANY($1::text[])
  AND (a.last_requested_month IS NULL OR a.last_requested_month < $2)
RETURNING a.account_id
"""

# ------------------------------------------------------------------ numbering
# only the issuers without a counter row yet: an INSERT ... ON CONFLICT of an existing issuer's
# row waited for the other replica's transaction holding that row locked (37 us per invoice of
# lock waiting), before the lock below even began
ENSURE_SEQUENCES = """
INSERT INTO number_sequences (issuer)
SELECT i FROM unnest($1::text[]) AS i WHERE NOT EXISTS (SELECT 1 FROM number_sequences s WHERE s.issuer = i)
ON CONFLICT DO NOTHING
"""

# lock the counters in a fixed order so two batches touching the same issuers cannot deadlock
LOCK_SEQUENCES = """
SELECT issuer FROM number_sequences WHERE issuer = ANY($1::text[]) ORDER BY issuer FOR UPDATE
"""

# reserve `n` numbers per issuer at once; the caller holds the row locks until it commits
RESERVE_NUMBERS = """
UPDATE number_sequences s SET last_number = s.last_number + r.n
FROM unnest($1::text[], $2::int[]) AS r(issuer, n)
WHERE s.issuer = r.issuer
RETURNING s.issuer, s.last_number
"""

# ------------------------------------------------------------------ invoices
EXISTING_INVOICES = """
SELECT i.account_id, i.month FROM invoices i
JOIN unnest($1::text[], $2::text[]) AS k(account_id, month) USING (account_id, month)
"""

# invoices go in by one INSERT of unnested arrays, not by COPY: pairs already invoiced were
# filtered out before, but a replica that raced to the same account and month fails the unique
# (account_id, month), and a COPY the server refuses midway can leave asyncpg's connection hung
# (a fresh-clone CI run hung in tests/integration/test_invoicing_race.py); the INSERT fails
# cleanly and the batch is issued again charge by charge. The totals go as text, cast by the
# server, and the instant once: asyncpg's binary numeric and timestamptz encodings cost about a
# microsecond a value (the statement's arguments: 7.8 -> 5.7 µs of client CPU an invoice)
INVOICE_COLUMNS = ("invoice_number", "issuer", "sequence", "account_id", "month", "run_id", "currency",
                   "issue_date", "due_date", "total", "lines", "source_event_id")
INSERT_INVOICES = f"""
INSERT INTO invoices ({", ".join(INVOICE_COLUMNS)}, issued_at)
SELECT *, $13::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                                       $7::text[], $8::date[], $9::date[], $10::text[]::numeric[], $11::json[],
                                       $12::uuid[])
"""

GET_INVOICE = "SELECT * FROM invoices WHERE invoice_number = $1"
LOCK_INVOICE = "SELECT * FROM invoices WHERE invoice_number = $1 FOR UPDATE"

LIST_INVOICES = """
SELECT invoice_number, issuer, account_id, month, run_id, currency, issue_date, due_date, total,
       paid_total, surcharge_total, status, credited_total, refunded_total
FROM invoices WHERE account_id = $1 ORDER BY month, invoice_number
"""

# Parking a charge and opening its account must not interleave (the charge could be parked after
# the opening looked for it): both take this lock; issuing for known accounts never does.
LOCK_PENDING = "SELECT pg_advisory_xact_lock(hashtext('invoicing:pending:' || current_schema()))"

INSERT_PENDING = """
INSERT INTO pending_charges (event_id, account_id, envelope, parked_at)
SELECT *, $4 FROM unnest($1::uuid[], $2::text[], $3::bytea[]) ON CONFLICT DO NOTHING
"""

TAKE_PENDING = """
DELETE FROM pending_charges WHERE account_id = ANY($1::text[]) RETURNING envelope
"""

# ------------------------------------------------------------------ runs
INSERT_RUN_REQUEST = """
INSERT INTO runs (run_id, month, requested_at, requested_by, account_ids)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (run_id) DO NOTHING
"""

# the summary may arrive before or after the request is known here (or with no request at all)
UPSERT_RUN_SUMMARY = """
INSERT INTO runs (run_id, month, summary, summary_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (run_id) DO UPDATE SET summary = EXCLUDED.summary, summary_at = EXCLUDED.summary_at
"""

ADD_EMPTY_ACCOUNTS = """
INSERT INTO runs (run_id, month, empty_accounts)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
ON CONFLICT (run_id) DO UPDATE SET empty_accounts = runs.empty_accounts + EXCLUDED.empty_accounts
"""

GET_RUN = "SELECT * FROM runs WHERE run_id = $1"
LIST_RUNS = """
SELECT * FROM runs WHERE ($1::text IS NULL OR month = $1)
ORDER BY coalesce(requested_at, summary_at) DESC NULLS LAST, run_id LIMIT 200
"""
# a partner's runs: those that named accounts, every one of them in its tree (shared/auth.py)
LIST_RUNS_WITHIN = """
SELECT * FROM runs WHERE ($1::text IS NULL OR month = $1)
  AND account_ids IS NOT NULL AND cardinality(account_ids) > 0 AND account_ids <@ $2::text[]
ORDER BY coalesce(requested_at, summary_at) DESC NULLS LAST, run_id LIMIT 200
"""
INVOICE_ACCOUNT = "SELECT account_id FROM invoices WHERE invoice_number = $1"
RUN_ACCOUNTS = "SELECT account_ids FROM runs WHERE run_id = $1"
RUN_RECEIVED = "SELECT currency, invoices, total FROM run_invoices WHERE run_id = $1"

# moved with each batch of invoices, in its transaction (rows in key order: no deadlocks)
ADD_RUN_INVOICES = """
INSERT INTO run_invoices (run_id, currency, invoices, total)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::numeric[]) ORDER BY 1, 2
ON CONFLICT (run_id, currency) DO UPDATE
SET invoices = run_invoices.invoices + EXCLUDED.invoices, total = run_invoices.total + EXCLUDED.total
"""

# ------------------------------------------------------------------ payments and surcharges
INSERT_PAYMENT = """
INSERT INTO payments (payment_id, invoice_number, account_id, amount, currency, method, paid_at, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
GET_PAYMENT = "SELECT * FROM payments WHERE payment_id = $1"
INSERT_SURCHARGE = """
INSERT INTO surcharges (surcharge_id, payment_id, invoice_number, account_id, currency, base_amount,
                        rate, amount, charged_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
APPLY_PAYMENT = """
UPDATE invoices SET paid_total = paid_total + $2, surcharge_total = surcharge_total + $3,
       status = $4, paid_at = coalesce(paid_at, $5)
WHERE invoice_number = $1
"""
INVOICE_PAYMENTS = "SELECT * FROM payments WHERE invoice_number = $1 ORDER BY paid_at, payment_id"
INVOICE_SURCHARGES = "SELECT * FROM surcharges WHERE invoice_number = $1 ORDER BY charged_at"

# ------------------------------------------------------------------ overdue
# candidates only: due before tomorrow in UTC+14 terms; balances.amounts decides per zone, net of disputes
OVERDUE_CANDIDATES = """
SELECT i.invoice_number, i.account_id, i.currency, i.due_date, i.total, i.paid_total,
       i.surcharge_total, i.credited_total, i.refunded_total, i.disputed_open,
       coalesce(a.time_zone, 'UTC') AS time_zone
FROM invoices i LEFT JOIN accounts a USING (account_id)
WHERE i.status = 'issued' AND i.due_date < $1
ORDER BY i.due_date LIMIT $2
"""
MARK_OVERDUE = """
UPDATE invoices SET status = 'overdue', overdue_at = $2
WHERE invoice_number = ANY($1::text[]) AND status = 'issued'
RETURNING invoice_number
"""

# ------------------------------------------------------------------ statements
# an account's items in [start, end) (and, with start NULL, everything before end)
STATEMENT_CHARGES = """
SELECT 'invoice' AS kind, invoice_number AS ref, issue_date AS on_date, total AS amount
FROM invoices WHERE account_id = $1 AND issue_date < $3 AND ($2::date IS NULL OR issue_date >= $2)
UNION ALL
SELECT 'surcharge', surcharge_id, (charged_at AT TIME ZONE $4)::date, amount
FROM surcharges WHERE account_id = $1 AND (charged_at AT TIME ZONE $4)::date < $3
  AND ($2::date IS NULL OR (charged_at AT TIME ZONE $4)::date >= $2)
ORDER BY on_date, ref
"""
STATEMENT_PAYMENTS = """
SELECT payment_id AS ref, invoice_number, method, (paid_at AT TIME ZONE $4)::date AS on_date, amount
FROM payments WHERE account_id = $1 AND (paid_at AT TIME ZONE $4)::date < $3
  AND ($2::date IS NULL OR (paid_at AT TIME ZONE $4)::date >= $2)
ORDER BY on_date, ref
"""

# ------------------------------------------------------------------ usage
INSERT_USAGE = """
INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[],
                     $6::timestamptz[])
ON CONFLICT (record_id) DO NOTHING
"""
USAGE_BETWEEN = """
SELECT record_id, part_number, quantity, used_at, received_at FROM usage_records
WHERE account_id = $1 AND used_at >= $2 AND used_at < $3 ORDER BY used_at, record_id
"""


async def accounts_by_id(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    return {r["account_id"]: r for r in await conn.fetch(ACCOUNTS_BY_ID, list(ids))}


async def issuers_of(conn: asyncpg.Connection, ids: Collection[str]) -> dict[str, str]:
    """The issuer of each known account of `ids`."""
    return {r["account_id"]: r["issuer"] for r in await conn.fetch(ISSUERS_OF, list(ids))}


async def ensure_sequences(conn: asyncpg.Connection, issuers: Sequence[str]) -> None:
    """Create the counters of issuers that have none (without waiting for those that have one)."""
    await conn.execute(ENSURE_SEQUENCES, sorted(issuers))


async def reserve_numbers(conn: asyncpg.Connection, counts: dict[str, int]) -> dict[str, int]:
    """Lock the issuers' counters (they exist: `ensure_sequences`) and move each forward by its
    count; returns the new last numbers."""
    issuers = sorted(counts)
    await conn.fetch(LOCK_SEQUENCES, issuers)
    rows = await conn.fetch(RESERVE_NUMBERS, issuers, [counts[i] for i in issuers])
    return {r["issuer"]: r["last_number"] for r in rows}


async def insert_invoices(conn: asyncpg.Connection, rows: Sequence[tuple], issued_at: datetime) -> None:
    """Insert invoices issued at `issued_at`, given as tuples in INVOICE_COLUMNS' order (total: its
    text; lines: JSON, e.g. an orjson.Fragment)."""
    await conn.execute(INSERT_INVOICES, *map(list, zip(*rows)), issued_at)


async def existing_invoices(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    rows = await conn.fetch(EXISTING_INVOICES, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["account_id"], r["month"]) for r in rows}


async def statement_items(conn: asyncpg.Connection, account_id: str, start: date | None, end: date,
                          time_zone: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    charges = await conn.fetch(STATEMENT_CHARGES, account_id, start, end, time_zone)
    payments = await conn.fetch(STATEMENT_PAYMENTS, account_id, start, end, time_zone)
    return charges, payments


async def insert_usage(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, Decimal, datetime, datetime]]) -> None:
    if rows:
        await conn.execute(INSERT_USAGE, *map(list, zip(*rows)))
