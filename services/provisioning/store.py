"""Provisioning's SQL, on the caller's connection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

# ------------------------------------------------------------------ accounts
# the row lock serialises every use case of one account: its outbox rows get ids in commit order
LOCK_ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1 FOR UPDATE"
CATALOG_HAS_CURRENCY = "SELECT EXISTS (SELECT 1 FROM products WHERE currency = $1)"
UNKNOWN_PRODUCTS = """
SELECT p FROM unnest($1::text[]) AS p
WHERE NOT EXISTS (SELECT 1 FROM products WHERE part_number = p) ORDER BY p
"""

INSERT_ACCOUNT = """
INSERT INTO accounts (account_id, name, parent_account_id, time_zone, mode, currency,
                      payment_terms_days, opened_at, automatic_runs, price_book, low_balance_threshold)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (account_id) DO NOTHING
"""

SAVE_SETTINGS = """
UPDATE accounts SET mode = $2, pending_mode = $3, pending_at = $4, low_balance_threshold = $5
WHERE account_id = $1
"""

GET_ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1"
LIST_ACCOUNTS = "SELECT * FROM accounts ORDER BY account_id"
LIST_CHILD_ACCOUNTS = "SELECT * FROM accounts WHERE parent_account_id = $1 ORDER BY account_id"

# commands naming only a subscription or a customer find their account first, then lock it
ACCOUNT_OF_SUBSCRIPTION = "SELECT account_id FROM subscriptions WHERE subscription_id = $1"
ACCOUNT_OF_CUSTOMER = "SELECT account_id FROM customers WHERE customer_id = $1"

# ------------------------------------------------------------------ catalogue
UPSERT_PRODUCTS = """
INSERT INTO products (part_number, kind, termination, minimum_term_months, body, currency, updated_at)
SELECT p.part_number, p.kind, p.termination, p.minimum_term_months, p.body::jsonb, $6, $7
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[])
     AS p(part_number, kind, termination, minimum_term_months, body)
ON CONFLICT (part_number) DO UPDATE SET
    kind = EXCLUDED.kind, termination = EXCLUDED.termination,
    minimum_term_months = EXCLUDED.minimum_term_months, body = EXCLUDED.body,
    currency = EXCLUDED.currency, updated_at = EXCLUDED.updated_at
"""

LIST_PRODUCTS = "SELECT * FROM products ORDER BY part_number"

# ------------------------------------------------------------------ subscriptions
INSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity, customer_id, started_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (subscription_id) DO NOTHING
"""

LOAD_SUBSCRIPTIONS = "SELECT * FROM subscriptions WHERE subscription_id = ANY($1::text[])"

UPSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity, customer_id, started_at,
                           ended_at, role, billing_start, termination_requested_at,
                           termination_effective, clouds, brand_ids, full_brand_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (subscription_id) DO UPDATE SET
    ended_at = EXCLUDED.ended_at, billing_start = EXCLUDED.billing_start,
    termination_requested_at = EXCLUDED.termination_requested_at,
    termination_effective = EXCLUDED.termination_effective,
    clouds = EXCLUDED.clouds, brand_ids = EXCLUDED.brand_ids
"""

LIST_SUBSCRIPTIONS = """
SELECT * FROM subscriptions
WHERE account_id = $1 AND ($2::text IS NULL OR role = $2) AND ($3::text IS NULL OR part_number = $3)
  AND ($4::text IS NULL OR customer_id = $4)
ORDER BY started_at, subscription_id
"""

GET_SUBSCRIPTION = "SELECT * FROM subscriptions WHERE subscription_id = $1"

# ------------------------------------------------------------------ customers
LOAD_CUSTOMERS = "SELECT * FROM customers WHERE customer_id = ANY($1::text[])"

# a few of the active customers on a brand or region: enough to refuse its termination
CUSTOMERS_ON = """
SELECT * FROM customers
WHERE removed_at IS NULL AND (brand_id = ANY($1::text[]) OR region_ids && $1::text[])
LIMIT 10
"""

UPSERT_CUSTOMER = """
INSERT INTO customers (customer_id, account_id, brand_id, region_ids, provisioned_at, removed_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (customer_id) DO UPDATE SET
    brand_id = EXCLUDED.brand_id, region_ids = EXCLUDED.region_ids, removed_at = EXCLUDED.removed_at
"""

LIST_CUSTOMERS = "SELECT * FROM customers WHERE account_id = $1 ORDER BY customer_id"
GET_CUSTOMER = "SELECT * FROM customers WHERE customer_id = $1"


async def lock_account(conn: asyncpg.Connection, account_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(LOCK_ACCOUNT, account_id)


async def catalog_has_currency(conn: asyncpg.Connection, currency: str) -> bool:
    return await conn.fetchval(CATALOG_HAS_CURRENCY, currency)


async def unknown_products(conn: asyncpg.Connection, part_numbers: list[str]) -> list[str]:
    """The part numbers of `part_numbers` the catalogue does not hold, sorted."""
    return [r["p"] for r in await conn.fetch(UNKNOWN_PRODUCTS, part_numbers)] if part_numbers else []


async def insert_account(conn: asyncpg.Connection, account_id: str, name: str, parent: str | None,
                         time_zone: str, mode: str, currency: str, payment_terms_days: int,
                         at: datetime, automatic_runs: bool = True, price_book: dict | None = None,
                         low_balance_threshold=0) -> bool:
    """False when the account id is already taken."""
    status = await conn.execute(INSERT_ACCOUNT, account_id, name, parent, time_zone, mode, currency,
                                payment_terms_days, at, automatic_runs, price_book, low_balance_threshold)
    return status == "INSERT 0 1"


async def account_of(conn: asyncpg.Connection, subscription_id: str | None,
                     customer_id: str | None) -> str | None:
    if subscription_id:
        found = await conn.fetchval(ACCOUNT_OF_SUBSCRIPTION, subscription_id)
        if found:
            return found
    if customer_id:
        return await conn.fetchval(ACCOUNT_OF_CUSTOMER, customer_id)
    return None


async def upsert_products(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, int, str]],
                          currency: str, at: datetime) -> None:
    """Rows are (part_number, kind, termination, minimum_term_months, body as JSON text)."""
    await conn.execute(UPSERT_PRODUCTS, *[list(col) for col in zip(*rows)], currency, at)


async def products(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(LIST_PRODUCTS)


async def insert_subscription(conn: asyncpg.Connection, subscription_id: str, account_id: str,
                              part_number: str, quantity: int, customer_id: str | None,
                              started_at) -> bool:
    """False when the subscription id is already taken."""
    status = await conn.execute(INSERT_SUBSCRIPTION, subscription_id, account_id, part_number,
                                quantity, customer_id, started_at)
    return status == "INSERT 0 1"


async def load_subscriptions(conn: asyncpg.Connection, ids: Iterable[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LOAD_SUBSCRIPTIONS, list(ids))


async def save_subscriptions(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    """Insert or update subscriptions; rows follow UPSERT_SUBSCRIPTION's 14 parameters."""
    if rows:
        await conn.executemany(UPSERT_SUBSCRIPTION, rows)


async def load_customers(conn: asyncpg.Connection, ids: Iterable[str]) -> list[asyncpg.Record]:
    return await conn.fetch(LOAD_CUSTOMERS, list(ids))


async def customers_on(conn: asyncpg.Connection, item_ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(CUSTOMERS_ON, list(item_ids))


async def save_customers(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    if rows:
        await conn.executemany(UPSERT_CUSTOMER, rows)


async def get_subscription(conn: asyncpg.Connection, subscription_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(GET_SUBSCRIPTION, subscription_id)
