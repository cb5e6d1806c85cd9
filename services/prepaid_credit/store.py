"""prepaid_credit's SQL, on the caller's connection. Bulk statements take parallel arrays (unnest)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# ------------------------------------------------------------------ accounts
# first AccountOpened wins: a redelivery or a replay changes nothing
INSERT_ACCOUNTS = """
INSERT INTO accounts (account_id, parent_account_id, time_zone, mode, currency, low_balance_threshold, opened_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[],
                     $7::timestamptz[])
ON CONFLICT (account_id) DO NOTHING
"""

SET_THRESHOLD = "UPDATE accounts SET low_balance_threshold = $2 WHERE account_id = $1"
SAVE_MODE_CHANGE = """
INSERT INTO mode_changes (account_id, effective_at, mode) VALUES ($1, $2, $3)
ON CONFLICT (account_id, effective_at) DO UPDATE SET mode = EXCLUDED.mode
"""
# the mode in force at an instant: the latest switch at or before it, else the opening's
MODE_AT = """
SELECT coalesce((SELECT mode FROM mode_changes WHERE account_id = $1 AND effective_at <= $2
                 ORDER BY effective_at DESC LIMIT 1),
                (SELECT mode FROM accounts WHERE account_id = $1))
"""

# every use case locks its accounts first, in id order (no deadlock between two batches): one
# account's steps never interleave, and its sequence numbers follow commit order
LOCK_ACCOUNTS = """
SELECT * FROM accounts WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE
"""

GET_ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1"

SAVE_ACCOUNTS = """
UPDATE accounts a SET balance = v.balance, shortfall = v.shortfall, next_seq = v.seq,
                      exhausted_armed = v.armed, first_redeemed_at = v.first,
                      usage_through = greatest(a.usage_through, v.through)
FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::bigint[], $5::boolean[], $6::timestamptz[],
            $7::timestamptz[]) AS v(account_id, balance, shortfall, seq, armed, first, through)
WHERE a.account_id = v.account_id
"""

# ------------------------------------------------------------------ lots
# the lots still holding credits (`holding`: remaining > 0), in draw order (first to expire,
# then first redeemed)
HOLDING_LOTS = """
SELECT lot, account_id, credits, remaining, redeemed_at, expires_at, seq FROM lots
WHERE account_id = ANY($1::text[]) AND holding ORDER BY account_id, expires_at, seq
"""

# a redemption's new lot
INSERT_LOTS = """
INSERT INTO lots (lot, account_id, credits, remaining, redeemed_at, expires_at, seq)
SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::timestamptz[],
                     $6::timestamptz[], $7::bigint[])
"""
# the remaining credits of lots drawn or expired (0: used up or expired)
SAVE_LOTS = """
UPDATE lots l SET remaining = v.remaining FROM unnest($1::text[], $2::numeric[]) AS v(lot, remaining)
WHERE l.lot = v.lot
"""

# the mode in force at $1 of the accounts row `a`
_MODE_NOW = """coalesce((SELECT m.mode FROM mode_changes m WHERE m.account_id = a.account_id
                         AND m.effective_at <= $1 ORDER BY m.effective_at DESC LIMIT 1), a.mode)"""

# accounts with a lot past its expiry that the expiry task may expire now: their usage debit of
# that midnight is in (or they are no longer prepaid: rating sends no more usage for them)
EXPIRY_DUE = f"""
SELECT DISTINCT l.account_id, {_MODE_NOW} AS mode_now FROM lots l JOIN accounts a USING (account_id)
WHERE l.holding AND l.expires_at <= $1
  AND ({_MODE_NOW} <> 'prepaid' OR a.usage_through >= l.expires_at)
ORDER BY l.account_id LIMIT $2
"""

# ------------------------------------------------------------------ ledger
# the debits already booked among those a batch brings (a redelivered or replayed line)
BOOKED = """
SELECT e.account_id, e.ref FROM entries e
JOIN unnest($1::text[], $2::text[]) AS k(account_id, ref) USING (account_id, ref)
WHERE e.kind IN ('usage', 'recurring')
"""

INSERT_ENTRIES = """
INSERT INTO entries (account_id, sequence, at, kind, change, balance, shortfall, ref, detail)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::numeric[],
                     $6::numeric[], $7::numeric[], $8::text[], $9::jsonb[])
"""

INSERT_DRAWS = """
INSERT INTO draws (account_id, sequence, lot, amount)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::numeric[])
"""

HISTORY = """
SELECT sequence, at, kind, change, balance, shortfall, ref, detail FROM entries
WHERE account_id = $1 ORDER BY sequence DESC LIMIT $2
"""

HISTORY_DRAWS = """
SELECT sequence, lot, amount FROM draws WHERE account_id = $1 AND sequence = ANY($2::bigint[])
ORDER BY sequence, lot
"""

# the debits the remaining-lifetime estimate reads: those of the 30 days before T (a day of
# slack each side for the zone; the domain cuts the window exactly)
RECENT_DEBITS = """
SELECT sequence, at, kind, change, balance, shortfall, ref FROM entries
WHERE account_id = $1 AND kind IN ('usage', 'recurring') AND at >= $2 AND at < $3 ORDER BY sequence
"""

# ------------------------------------------------------------------ run charges waiting for usage
INSERT_WAITING = """
INSERT INTO waiting_charges (event_id, account_id, ready_after, at, envelope)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bytea[])
ON CONFLICT DO NOTHING
"""

TAKE_READY = """
DELETE FROM waiting_charges w USING accounts a
WHERE w.account_id = a.account_id AND w.account_id = ANY($1::text[])
  AND (w.ready_after <= a.opened_at OR a.usage_through >= w.ready_after)
RETURNING w.envelope
"""

# ------------------------------------------------------------------ vouchers
INSERT_VOUCHERS = """
INSERT INTO vouchers (code, batch_id, issuer, credits, lifetime_days, issued_at)
SELECT c, $2, $3, $4, $5, $6 FROM unnest($1::text[]) AS c
ON CONFLICT (code) DO NOTHING
RETURNING code
"""

EXISTING_CODES = "SELECT code FROM vouchers WHERE code = ANY($1::text[])"

LOCK_VOUCHER = "SELECT * FROM vouchers WHERE code = $1 FOR UPDATE"

MARK_REDEEMED = "UPDATE vouchers SET redeemed_by = $2, redeemed_at = $3 WHERE code = $1"

LIST_VOUCHERS = """
SELECT code, batch_id, issuer, credits, lifetime_days, issued_at, redeemed_by, redeemed_at FROM vouchers
WHERE ($1::text[] IS NULL OR issuer = ANY($1::text[])) AND ($2::text IS NULL OR batch_id = $2)
  AND ($3::text IS NULL OR ($3 = 'redeemed') = (redeemed_by IS NOT NULL))
ORDER BY issued_at DESC, code LIMIT $4
"""


async def lock_accounts(conn: asyncpg.Connection, account_ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    return {r["account_id"]: r for r in await conn.fetch(LOCK_ACCOUNTS, list(account_ids))}


async def holding_lots(conn: asyncpg.Connection, account_ids: Sequence[str]) -> dict[str, list[asyncpg.Record]]:
    out: dict[str, list[asyncpg.Record]] = {a: [] for a in account_ids}
    for r in await conn.fetch(HOLDING_LOTS, list(account_ids)):
        out[r["account_id"]].append(r)
    return out


async def booked(conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    if not keys:
        return set()
    rows = await conn.fetch(BOOKED, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["account_id"], r["ref"]) for r in rows}
