"""Invoicing's operator use cases for what was set aside: re-invoicing a quarantined charge once
fixed, and expiring charges that waited too long for an unknown account."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import asyncpg

from contracts.envelope import Envelope
from contracts.charges import ChargesItem
from services.invoicing import quarantine, service, store
from services.invoicing.payments import Conflict, NotFound
from shared.settings import Settings

EXPIRED = "pending_charge_expired"


async def reinvoice(conn: asyncpg.Connection, settings: Settings, account_id: str, month: str, now: datetime,
                    payment_terms_days: int | None = None) -> list[dict]:
    """Issue the invoice of each charge of `account_id` for `month` still quarantined here, in one
    transaction; with `payment_terms_days`, the operator's correction replaces the charge's terms.
    A charge that fails again stays quarantined with its new reason. Invoices stay one per
    account and month: if one was issued meanwhile, the entry is resolved by it."""
    async with conn.transaction():
        rows = await conn.fetch(quarantine.OPEN_FOR, account_id, month)
        if not rows:
            raise NotFound("nothing_quarantined", f"no quarantined charges of account {account_id} for {month}")
        if not await store.accounts_by_id(conn, [account_id]):
            raise Conflict("account_unknown", f"account {account_id} is still unknown to invoicing")
        out = []
        for row in rows:
            envelope = Envelope.decode(row["envelope"])
            charge = ChargesItem.model_validate(envelope.payload)
            if payment_terms_days is not None:
                charge = charge.model_copy(update={"payment_terms_days": payment_terms_days})
            await service.issue_invoices(conn, settings, [(envelope, charge)], now)
            number = (await quarantine.invoices_of(conn, [account_id], month)).get(account_id)
            if number is not None:
                await conn.execute(quarantine.RESOLVE, row["run_id"], account_id, number, now)
                out.append({"run_id": row["run_id"], "invoice": number, "reason": None, "error": None})
            else:
                again = await conn.fetchrow("SELECT reason, error FROM quarantined_charges WHERE run_id = $1 "
                                            "AND account_id = $2", row["run_id"], account_id)
                out.append({"run_id": row["run_id"], "invoice": None, "reason": again["reason"],
                            "error": again["error"]})
        return out


async def expire_pending(conn: asyncpg.Connection, settings: Settings, now: datetime, limit: int = 1000) -> int:
    """Quarantine charges that waited longer than BILLING_PENDING_CHARGES_TTL_HOURS for their
    account (reason pending_charge_expired): their run reconciles counting them, and an operator
    sees them instead of their sitting in pending_charges forever. Returns how many expired."""
    ttl = timedelta(hours=settings.tuning.pending_charges_ttl_hours)
    async with conn.transaction():
        await conn.execute(store.LOCK_PENDING)  # not while an opening takes its charges
        rows = await conn.fetch(quarantine.EXPIRE_PENDING, now - ttl, limit)
        items = []
        for r in rows:
            envelope = Envelope.decode(r["envelope"])
            p = envelope.payload  # as stored, without re-validating: it is set aside either way
            charge = SimpleNamespace(run_id=str(p.get("run_id", "")), account_id=r["account_id"],
                                     month=str(p.get("month", "")), currency=str(p.get("currency", "")),
                                     total=_decimal(p.get("total")))
            items.append((envelope, charge, EXPIRED,
                          f"account {r['account_id']} still unknown {ttl} after its charges arrived at "
                          f"{r['parked_at'].isoformat()}"))
        await quarantine.save(conn, items, now)
    return len(items)


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


async def pending(conn: asyncpg.Connection, now: datetime) -> list[dict]:
    """Charges waiting for their account, oldest first, with how long they have waited."""
    return [{"event_id": str(r["event_id"]), "account_id": r["account_id"], "parked_at": r["parked_at"].isoformat(),
             "waiting_hours": round((now - r["parked_at"]).total_seconds() / 3600, 2)}
            for r in await conn.fetch(quarantine.LIST_PENDING)]
