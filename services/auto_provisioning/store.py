"""Auto-provisioning's SQL, on the caller's connection; set-based for whole batches of events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

UPSERT_ACCOUNT = """
INSERT INTO accounts (account_id, time_zone, parent_account_id) VALUES ($1, $2, $3)
ON CONFLICT (account_id) DO UPDATE SET time_zone = EXCLUDED.time_zone,
                                       parent_account_id = EXCLUDED.parent_account_id
"""

LOAD_CUSTOMERS = "SELECT * FROM customers WHERE customer_id = ANY($1::text[]) FOR UPDATE"

# the users a batch names, plus every user of the customers whose analytics or snapshot it carries
LOAD_USERS = """
SELECT u.* FROM users u
JOIN unnest($1::text[], $2::text[]) AS k(customer_id, user_id)
  ON u.customer_id = k.customer_id AND u.user_id = k.user_id
UNION
SELECT * FROM users WHERE customer_id = ANY($3::text[])
"""

SAVE_CUSTOMERS = """
INSERT INTO customers (customer_id, account_id, analytics, analytics_at, analytics_since)
SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::timestamptz[])
ON CONFLICT (customer_id) DO UPDATE SET
    analytics = EXCLUDED.analytics, analytics_at = EXCLUDED.analytics_at,
    analytics_since = EXCLUDED.analytics_since
"""

SAVE_USERS = """
INSERT INTO users (customer_id, user_id, account_id, present, voice, last_at, present_since,
                   licence, licence_at, seq)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::bool[], $6::timestamptz[],
                     $7::timestamptz[], $8::text[], $9::timestamptz[], $10::int[])
ON CONFLICT (customer_id, user_id) DO UPDATE SET
    present = EXCLUDED.present, voice = EXCLUDED.voice, last_at = EXCLUDED.last_at,
    present_since = EXCLUDED.present_since, licence = EXCLUDED.licence,
    licence_at = EXCLUDED.licence_at, seq = EXCLUDED.seq
"""

# every account known from provisioning or from its users, with its enterprise-voice users
VOICE_COUNTS = """
SELECT a.account_id, coalesce(z.time_zone, 'UTC') AS time_zone,
       (SELECT count(*) FROM users u WHERE u.account_id = a.account_id AND u.present AND u.voice) AS count
FROM (SELECT account_id FROM accounts UNION SELECT DISTINCT account_id FROM users) a
LEFT JOIN accounts z ON z.account_id = a.account_id
ORDER BY a.account_id
"""

INSERT_COUNT = """
INSERT INTO user_counts (account_id, at, count, reported_at) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""

LIST_USERS = "SELECT * FROM users WHERE customer_id = $1 ORDER BY user_id"


async def upsert_account(conn: asyncpg.Connection, account_id: str, time_zone: str,
                         parent_account_id: str | None = None) -> None:
    await conn.execute(UPSERT_ACCOUNT, account_id, time_zone, parent_account_id)


async def load_customers(conn: asyncpg.Connection, ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LOAD_CUSTOMERS, list(ids))


async def load_users(conn: asyncpg.Connection, pairs: Sequence[tuple[str, str]],
                     whole_customers: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LOAD_USERS, [c for c, _ in pairs], [u for _, u in pairs], list(whole_customers))


async def save_customers(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    if rows:
        await conn.execute(SAVE_CUSTOMERS, *[list(col) for col in zip(*rows)])


async def save_users(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    if rows:
        await conn.execute(SAVE_USERS, *[list(col) for col in zip(*rows)])


async def voice_counts(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(VOICE_COUNTS)


async def insert_count(conn: asyncpg.Connection, account_id: str, at: datetime, count: int,
                       now: datetime) -> bool:
    """False when this account's count for metering point `at` was already reported."""
    return await conn.execute(INSERT_COUNT, account_id, at, count, now) == "INSERT 0 1"


async def list_users(conn: asyncpg.Connection, customer_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_USERS, customer_id)
