"""Rating's SQL, on the caller's connection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

UPSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity, customer_id,
                           started_at, source_event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (subscription_id) DO NOTHING
"""


async def add_subscription(conn: asyncpg.Connection, subscription_id: str, account_id: str,
                           part_number: str, quantity: int, customer_id: str | None,
                           started_at: datetime, source_event_id: UUID) -> None:
    await conn.execute(UPSERT_SUBSCRIPTION, subscription_id, account_id, part_number, quantity,
                       customer_id, started_at, source_event_id)


async def end_subscription(conn: asyncpg.Connection, subscription_id: str, ended_at: datetime) -> None:
    await conn.execute(
        "UPDATE subscriptions SET ended_at = $2 WHERE subscription_id = $1 AND ended_at IS NULL",
        subscription_id, ended_at)
