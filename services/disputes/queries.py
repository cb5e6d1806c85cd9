"""Read side of disputes: a dispute, an invoice's or an account's disputes, an issuer's calendar."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.disputes import domain, store


def view(d: domain.Dispute, now: datetime, overdue_at: datetime | None = None) -> dict:
    """A dispute as the API shows it: `status` is its outcome once resolved (a command may carry
    a resolution instant ahead of the service's clock), else `overdue` strictly after `due_at`
    by `now`, else `open`."""
    return {"dispute_id": d.dispute_id, "invoice_number": d.invoice_number, "account_id": d.account_id,
            "issuer": d.issuer, "currency": d.currency, "amount": str(d.amount), "reason": d.reason,
            "lines": list(d.lines), "received_at": d.received_at.isoformat(), "due_at": d.due_at.isoformat(),
            "status": d.outcome or domain.status_at(d, now), "outcome": d.outcome,
            "credited": None if d.credited is None else str(d.credited),
            "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None, "late": d.late,
            "overdue_announced_at": overdue_at.isoformat() if overdue_at else None}


def _views(rows: list[asyncpg.Record], now: datetime) -> list[dict]:
    return [view(store.to_dispute(r), now, r["overdue_at"]) for r in rows]


async def dispute(conn: asyncpg.Connection, dispute_id: str, now: datetime) -> dict | None:
    row = await conn.fetchrow(store.GET_DISPUTE, dispute_id)
    return None if row is None else view(store.to_dispute(row), now, row["overdue_at"])


async def invoice_disputes(conn: asyncpg.Connection, number: str, now: datetime) -> list[dict]:
    return _views(await conn.fetch(store.INVOICE_DISPUTES, number), now)


async def account_disputes(conn: asyncpg.Connection, account_id: str, now: datetime) -> list[dict]:
    return _views(await conn.fetch(store.ACCOUNT_DISPUTES, account_id), now)


async def calendar(conn: asyncpg.Connection, issuer: str) -> dict:
    """The issuer's calendar (`default`: it never set one, so UTC without holidays)."""
    row = await conn.fetchrow(store.GET_CALENDAR, issuer)
    if row is None:
        return {"issuer": issuer, "time_zone": "UTC", "holidays": [], "default": True}
    return {"issuer": issuer, "time_zone": row["time_zone"], "holidays": [h.isoformat() for h in row["holidays"]],
            "default": False}
