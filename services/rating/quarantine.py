"""Rating's quarantine SQL: accounts a run set aside with their reason, and failed runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

SAVE = """
INSERT INTO quarantined_accounts (run_id, account_id, month, reason, error, at)
SELECT $1, a, $2, r, e, $3 FROM unnest($4::text[], $5::text[], $6::text[]) AS x(a, r, e)
ON CONFLICT (run_id, account_id) DO NOTHING
"""
# an account rated after all (an operator's re-rate, or any later run of the month): its open
# quarantine rows say by which run. The partial index holds only open rows: on the happy path
# this touches an empty index.
RESOLVE = """
UPDATE quarantined_accounts SET resolved_run = $3, resolved_at = $4
WHERE month = $1 AND account_id = ANY($2::text[]) AND resolved_at IS NULL
"""
# whether the month has any open quarantine row: most chunks have none, and the check costs less
# than sending their 2,000 account ids (rows of the chunk's accounts come from earlier, committed runs)
ANY_OPEN = "SELECT EXISTS (SELECT 1 FROM quarantined_accounts WHERE month = $1 AND resolved_at IS NULL)"
OF_RUN = """
SELECT account_id, reason, error, at, resolved_run, resolved_at FROM quarantined_accounts
WHERE run_id = $1 ORDER BY account_id LIMIT $2
"""
COUNT_OF_RUN = "SELECT count(*) FROM quarantined_accounts WHERE run_id = $1"
# the operator's list: open ones first, newest first
LIST = """
SELECT run_id, account_id, month, reason, error, at, resolved_run, resolved_at FROM quarantined_accounts
WHERE ($1::text IS NULL OR month = $1) AND ($2::text IS NULL OR account_id = $2)
  AND ($3 OR resolved_at IS NULL)
ORDER BY resolved_at IS NOT NULL, at DESC, run_id, account_id LIMIT 500
"""
MARK_RUN_FAILED = "UPDATE runs SET status = 'failed', error = $2, rated_at = $3 WHERE run_id = $1"


def _text(value: str) -> str:
    """PostgreSQL text holds no NUL: an error message quoting bad input may carry one."""
    return value.replace("\x00", "\\x00")


async def save(conn: asyncpg.Connection, run_id: str, month: str, failures: Sequence, at: datetime) -> None:
    """Record `failures` (domain.AccountFailure) of run `run_id`; one row per run and account."""
    if failures:
        await conn.execute(SAVE, run_id, month, at, [_text(f.account_id) for f in failures],
                           [_text(f.reason) for f in failures], [_text(f.error) for f in failures])


async def resolve(conn: asyncpg.Connection, month: str, account_ids: list[str], run_id: str, at: datetime) -> None:
    if account_ids and await conn.fetchval(ANY_OPEN, month):
        await conn.execute(RESOLVE, month, account_ids, run_id, at)


async def of_run(conn: asyncpg.Connection, run_id: str, limit: int = 1000) -> list[asyncpg.Record]:
    return await conn.fetch(OF_RUN, run_id, limit)


async def count_of_run(conn: asyncpg.Connection, run_id: str) -> int:
    return await conn.fetchval(COUNT_OF_RUN, run_id)


async def listing(conn: asyncpg.Connection, month: str | None, account_id: str | None,
                  resolved: bool) -> list[asyncpg.Record]:
    return await conn.fetch(LIST, month, account_id, resolved)


async def mark_run_failed(conn: asyncpg.Connection, run_id: str, error: str, at: datetime) -> None:
    await conn.execute(MARK_RUN_FAILED, run_id, _text(error), at)
