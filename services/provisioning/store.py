"""Provisioning's SQL, on the caller's connection."""

from __future__ import annotations

import asyncpg

INSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity, customer_id, started_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (subscription_id) DO NOTHING
"""


async def insert_subscription(conn: asyncpg.Connection, subscription_id: str, account_id: str,
                              part_number: str, quantity: int, customer_id: str | None,
                              started_at) -> bool:
    """False when the subscription id is already taken."""
    status = await conn.execute(INSERT_SUBSCRIPTION, subscription_id, account_id, part_number,
                                quantity, customer_id, started_at)
    return status == "INSERT 0 1"


async def get_subscription(conn: asyncpg.Connection, subscription_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM subscriptions WHERE subscription_id = $1", subscription_id)
