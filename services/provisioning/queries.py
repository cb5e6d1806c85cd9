"""Provisioning's reads: accounts, customers and subscriptions with their billing state."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.provisioning import store
from shared.calendar import local_midnight

ROLES = {"features": "feature", "brands": "brand", "regions": "region", "packs": "pack"}


def subscription_state(row: asyncpg.Record, time_zone: str, now: datetime) -> dict:
    """`active`, `ended` or `termination_pending`, with the instant it ends (or ended)."""
    if row["ended_at"] is not None:
        return {"state": "ended", "effective_at": row["ended_at"].isoformat()}
    if row["termination_effective"] is not None:
        effective = (local_midnight(row["termination_effective"], time_zone)
                     if row["billing_start"] is not None else row["termination_requested_at"])
        state = "ended" if now >= effective else "termination_pending"
        return {"state": state, "effective_at": effective.isoformat(),
                "effective_date": row["termination_effective"].isoformat()}
    return {"state": "active"}


def _subscription(row: asyncpg.Record, time_zone: str, now: datetime) -> dict:
    return {
        "subscription_id": row["subscription_id"], "account_id": row["account_id"], "role": row["role"],
        "part_number": row["part_number"], "quantity": row["quantity"], "customer_id": row["customer_id"],
        "created_at": row["started_at"].isoformat(),
        "billing_start": row["billing_start"].isoformat() if row["billing_start"] else None,
        "clouds": list(row["clouds"]), "brand_ids": list(row["brand_ids"]),
        "full_brand_id": row["full_brand_id"],
        "termination_requested_at": (row["termination_requested_at"].isoformat()
                                     if row["termination_requested_at"] else None),
        "billing_state": subscription_state(row, time_zone, now),
    }


def _customer(row: asyncpg.Record) -> dict:
    return {"customer_id": row["customer_id"], "account_id": row["account_id"], "brand_id": row["brand_id"],
            "region_ids": list(row["region_ids"]), "provisioned_at": row["provisioned_at"].isoformat(),
            "billing_state": ({"state": "ended", "effective_at": row["removed_at"].isoformat()}
                              if row["removed_at"] else {"state": "active"})}


def _account(row: asyncpg.Record, now: datetime | None = None) -> dict:
    """An account as the API shows it; with `now`, `mode` is the mode in force then (a pending
    switch whose instant has passed is the mode)."""
    switched = row["pending_mode"] is not None and now is not None and row["pending_at"] <= now
    return {"account_id": row["account_id"], "name": row["name"], "parent_account_id": row["parent_account_id"],
            "time_zone": row["time_zone"], "mode": row["pending_mode"] if switched else row["mode"],
            "currency": row["currency"],
            "payment_terms_days": row["payment_terms_days"], "opened_at": row["opened_at"].isoformat(),
            "automatic_runs": row["automatic_runs"], "price_book": row["price_book"],
            "low_balance_threshold": str(row["low_balance_threshold"]),
            "mode_switch": ({"mode": row["pending_mode"], "effective_at": row["pending_at"].isoformat()}
                            if row["pending_mode"] and not switched else None),
            "billing_state": {"state": "active"}}


async def list_accounts(conn: asyncpg.Connection) -> list[dict]:
    return [_account(r) for r in await conn.fetch(store.LIST_ACCOUNTS)]


async def show_account(conn: asyncpg.Connection, account_id: str, now: datetime | None = None) -> dict | None:
    row = await conn.fetchrow(store.GET_ACCOUNT, account_id)
    if row is None:
        return None
    shown = _account(row, now)
    shown["child_account_ids"] = [r["account_id"] for r in await conn.fetch(store.LIST_CHILD_ACCOUNTS, account_id)]
    return shown


async def list_customers(conn: asyncpg.Connection, account_id: str) -> list[dict] | None:
    if await conn.fetchrow(store.GET_ACCOUNT, account_id) is None:
        return None
    return [_customer(r) for r in await conn.fetch(store.LIST_CUSTOMERS, account_id)]


async def show_customer(conn: asyncpg.Connection, customer_id: str) -> dict | None:
    row = await conn.fetchrow(store.GET_CUSTOMER, customer_id)
    return _customer(row) if row else None


async def list_subscriptions(conn: asyncpg.Connection, account_id: str, role: str | None,
                             part_number: str | None, now: datetime, customer_id: str | None = None) -> list[dict] | None:
    account = await conn.fetchrow(store.GET_ACCOUNT, account_id)
    if account is None:
        return None
    rows = await conn.fetch(store.LIST_SUBSCRIPTIONS, account_id, role, part_number, customer_id)
    return [_subscription(r, account["time_zone"], now) for r in rows]


async def show_subscription(conn: asyncpg.Connection, subscription_id: str, now: datetime) -> dict | None:
    row = await conn.fetchrow(store.GET_SUBSCRIPTION, subscription_id)
    if row is None:
        return None
    account = await conn.fetchrow(store.GET_ACCOUNT, row["account_id"])
    return _subscription(row, account["time_zone"] if account else "UTC", now)


async def catalog(conn: asyncpg.Connection) -> dict:
    rows = await conn.fetch(store.LIST_PRODUCTS)
    return {"currency": rows[0]["currency"] if rows else "USD", "products": [r["body"] for r in rows]}
