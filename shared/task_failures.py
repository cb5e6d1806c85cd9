"""Accounts a periodic task skipped because their own data made it fail: logged, and kept in the
service's `task_failures` table (one row per task and account; the kit's migration 0005 makes it
in every service's schema) where operators see them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from pydantic import Field

from shared.http import ResponseModel

log = logging.getLogger(__name__)


class TaskFailureOut(ResponseModel):
    """An account a periodic task skips because its own data makes the task fail: a row of `LIST`
    as the services' `GET /v1/task-failures` answer it."""

    task: str
    account_id: str
    reason: str = Field(description="the exception's class")
    error: str = Field(description="its message (at most 2,000 characters)")
    first_at: str = Field(description="the first failure, ISO 8601")
    last_at: str = Field(description="the latest failure, ISO 8601")
    failures: int = Field(description="how many passes of the task failed for the account")

RECORD = """
INSERT INTO task_failures (task, account_id, reason, error, first_at, last_at)
SELECT $1, a, r, e, $5, $5 FROM unnest($2::text[], $3::text[], $4::text[]) AS x(a, r, e)
ON CONFLICT (task, account_id) DO UPDATE
SET reason = EXCLUDED.reason, error = EXCLUDED.error, last_at = EXCLUDED.last_at,
    failures = task_failures.failures + 1
RETURNING account_id, failures
"""
# an account the task handled after all is no longer failing (an empty index scan when none is)
CLEAR = "DELETE FROM task_failures WHERE task = $1 AND account_id = ANY($2::text[])"
LIST = """
SELECT task, account_id, reason, error, first_at, last_at, failures FROM task_failures
WHERE ($1::text IS NULL OR task = $1) ORDER BY last_at DESC, task, account_id LIMIT 500
"""


def _text(value: str) -> str:
    return value.replace("\x00", "\\x00")[:2000]  # PostgreSQL text holds no NUL


async def record(conn: asyncpg.Connection, task: str, failed: Sequence[tuple[str, BaseException]],
                 at: datetime) -> None:
    """Log and keep each (account id, exception) `task` skipped."""
    if not failed:
        return
    rows = await conn.fetch(RECORD, task, [_text(a) for a, _ in failed], [type(e).__name__ for _, e in failed],
                            [_text(str(e) or repr(e)) for _, e in failed], at)
    first = {r["account_id"] for r in rows if r["failures"] == 1}
    for account_id, exc in failed:  # a warning the first time; the task meets it again each tick
        (log.warning if _text(account_id) in first else log.debug)(
            "%s: skipped account %r: %s: %s", task, account_id, type(exc).__name__, exc)


async def clear(conn: asyncpg.Connection, task: str, account_ids: Sequence[str]) -> None:
    if account_ids:
        await conn.execute(CLEAR, task, list(account_ids))


async def listing(conn: asyncpg.Connection, task: str | None = None) -> list[dict]:
    return [{**dict(r), "first_at": r["first_at"].isoformat(), "last_at": r["last_at"].isoformat()}
            for r in await conn.fetch(LIST, task)]
