"""Invoicing's SQL for money after the invoice: dispute holds, credit notes, refunds, surcharge settings."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from services.invoicing.balances import DEFAULT_SURCHARGE, SurchargePolicy

# ------------------------------------------------------------------ dispute holds
# the first opening wins: a redelivered or replayed DisputeOpened inserts nothing (RETURNING none)
INSERT_HOLD = """
INSERT INTO dispute_holds (dispute_id, invoice_number, amount, received_at, due_at)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dispute_id) DO NOTHING RETURNING dispute_id
"""
LOCK_HOLD = "SELECT * FROM dispute_holds WHERE dispute_id = $1 FOR UPDATE"
RESOLVE_HOLD = """
UPDATE dispute_holds SET outcome = $2, credited = $3, resolved_at = $4 WHERE dispute_id = $1 AND outcome IS NULL
"""
# the running sums on the invoice row, moved with the row they sum
ADD_DISPUTED = "UPDATE invoices SET disputed_open = disputed_open + $2 WHERE invoice_number = $1"
ADD_CREDIT_AND_REFUND = """
UPDATE invoices SET credited_total = credited_total + $2, refunded_total = refunded_total + $3,
       status = CASE WHEN $4 THEN 'paid' ELSE status END,
       paid_at = CASE WHEN $4 THEN coalesce(paid_at, $5) ELSE paid_at END
WHERE invoice_number = $1
"""

# ------------------------------------------------------------------ credit notes
ENSURE_CN_SEQUENCE = "INSERT INTO credit_note_sequences (issuer) VALUES ($1) ON CONFLICT DO NOTHING"
# the counter row stays locked until the credit note commits: a rollback leaves no gap
NEXT_CN_NUMBER = """
UPDATE credit_note_sequences SET last_number = last_number + 1 WHERE issuer = $1 RETURNING last_number
"""
INSERT_CREDIT_NOTE = """
INSERT INTO credit_notes (credit_note_number, issuer, sequence, dispute_id, invoice_number, account_id,
                          currency, amount, issued_at, source_event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
INVOICE_CREDIT_NOTES = "SELECT * FROM credit_notes WHERE invoice_number = $1 ORDER BY issued_at, sequence"
ACCOUNT_CREDIT_NOTES = "SELECT * FROM credit_notes WHERE account_id = $1 ORDER BY issued_at, sequence"

# ------------------------------------------------------------------ refunds
INSERT_REFUND = """
INSERT INTO refunds (refund_id, dispute_id, invoice_number, account_id, currency, amount, issued_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
GET_REFUND = "SELECT * FROM refunds WHERE refund_id = $1"
LOCK_REFUND = "SELECT * FROM refunds WHERE refund_id = $1 FOR UPDATE"
PAY_OUT_REFUND = "UPDATE refunds SET paid_out_at = $2, payout_reference = $3 WHERE refund_id = $1"
INVOICE_REFUNDS = "SELECT * FROM refunds WHERE invoice_number = $1 ORDER BY issued_at, refund_id"
ACCOUNT_REFUNDS = "SELECT * FROM refunds WHERE account_id = $1 ORDER BY issued_at, refund_id"
# each late refund once: those not paid out by their due instant (strictly after it)
MARK_REFUNDS_OVERDUE = """
UPDATE refunds SET overdue_at = $1
WHERE refund_id IN (SELECT refund_id FROM refunds WHERE paid_out_at IS NULL AND overdue_at IS NULL AND due_at < $1
                    ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
RETURNING *
"""

# ------------------------------------------------------------------ surcharge settings
GET_SURCHARGE = "SELECT threshold, rate FROM surcharge_settings WHERE issuer = $1"
UPSERT_SURCHARGE = """
INSERT INTO surcharge_settings (issuer, threshold, rate, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (issuer) DO UPDATE SET threshold = EXCLUDED.threshold, rate = EXCLUDED.rate,
    updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
"""

# ------------------------------------------------------------------ statements
# credit notes and refunds of an account on days [start, end) in its zone (start NULL: from the beginning)
STATEMENT_CREDITS = """
SELECT 'credit_note' AS kind, credit_note_number AS ref, invoice_number, dispute_id,
       (issued_at AT TIME ZONE $4)::date AS on_date, amount
FROM credit_notes WHERE account_id = $1 AND (issued_at AT TIME ZONE $4)::date < $3
  AND ($2::date IS NULL OR (issued_at AT TIME ZONE $4)::date >= $2)
UNION ALL
SELECT 'refund', refund_id, invoice_number, dispute_id, (issued_at AT TIME ZONE $4)::date, amount
FROM refunds WHERE account_id = $1 AND (issued_at AT TIME ZONE $4)::date < $3
  AND ($2::date IS NULL OR (issued_at AT TIME ZONE $4)::date >= $2)
ORDER BY on_date, ref
"""


async def surcharge_policy(conn: asyncpg.Connection, issuer: str) -> SurchargePolicy:
    """The issuer's card surcharge settings, or the policy's defaults when it has none."""
    row = await conn.fetchrow(GET_SURCHARGE, issuer)
    return DEFAULT_SURCHARGE if row is None else SurchargePolicy(row["threshold"], row["rate"])


async def next_credit_note_number(conn: asyncpg.Connection, issuer: str) -> int:
    await conn.execute(ENSURE_CN_SEQUENCE, issuer)
    return await conn.fetchval(NEXT_CN_NUMBER, issuer)


def paid_net(row: asyncpg.Record) -> Decimal:
    return row["paid_total"] - row["refunded_total"]
