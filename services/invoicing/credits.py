"""Invoicing's use cases after the invoice: disputes held and resolved (credit notes, refunds),
refunds paid out and overdue, surcharge settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.invoicing import CreditNoteIssuedV1, InvoicePaidV1, RefundIssuedV1, RefundOverdueV1, RefundPaidOutV1
from contracts.topics import INVOICING_EVENTS
from services.invoicing import balances, money_store as sql, store
from services.invoicing.amounts import amounts_changed
from services.invoicing.payments import Conflict, NotFound
from services.invoicing.service import wrap_event
from shared import outbox
from shared.settings import Settings

# ------------------------------------------------------------------ disputes
async def hold_disputes(conn: asyncpg.Connection, settings: Settings, opened: Sequence[tuple[Envelope, Any]],
                        now: datetime) -> int:
    """Hold each opened dispute's amount back from its invoice's overdue amount, once per dispute."""
    events = []
    for env, p in opened:
        if await conn.fetchrow(store.LOCK_INVOICE, p.invoice_number) is None:
            continue  # not an invoice of ours (another environment's): nothing to hold
        if await conn.fetchval(sql.INSERT_HOLD, p.dispute_id, p.invoice_number, p.amount, p.received_at,
                               p.due_at) is None:
            continue  # redelivered or replayed: held already
        await conn.execute(sql.ADD_DISPUTED, p.invoice_number, p.amount)
        events.append(await amounts_changed(conn, settings, p.invoice_number, p.received_at, now, env))
    await outbox.add(conn, settings.topic(INVOICING_EVENTS.name), events)
    return len(events)


async def resolve_disputes(conn: asyncpg.Connection, settings: Settings, resolved: Sequence[tuple[Envelope, Any]],
                           now: datetime) -> int:
    """Apply each resolution once: release the hold, issue the credit note of an upheld dispute at
    the resolution instant, and refund what the invoice was then paid beyond what it owes."""
    events: list[Envelope] = []
    for env, p in resolved:
        events += await _resolve(conn, settings, env, p, now)
    await outbox.add(conn, settings.topic(INVOICING_EVENTS.name), events)
    return len(events)


async def _resolve(conn: asyncpg.Connection, settings: Settings, env: Envelope, p: Any, now: datetime) -> list:
    invoice = await conn.fetchrow(store.LOCK_INVOICE, p.invoice_number)
    if invoice is None:
        return []
    hold = await conn.fetchrow(sql.LOCK_HOLD, p.dispute_id)
    if hold is None:  # its opening never reached us: record it as held, then release it below
        await conn.execute(sql.INSERT_HOLD, p.dispute_id, p.invoice_number, p.amount, p.received_at, p.due_at)
        await conn.execute(sql.ADD_DISPUTED, p.invoice_number, p.amount)
    elif hold["outcome"] is not None:
        return []  # applied already: a redelivery or a replay issues nothing twice
    at, credited = p.resolved_at, p.credited if p.outcome == "upheld" else Decimal(0)
    await conn.execute(sql.RESOLVE_HOLD, p.dispute_id, p.outcome, credited, at)
    await conn.execute(sql.ADD_DISPUTED, p.invoice_number, -p.amount)
    out = []
    refund = Decimal(0)
    if credited > 0:
        seq = await sql.next_credit_note_number(conn, invoice["issuer"])
        number = balances.credit_note_number(invoice["issuer"], seq)
        await conn.execute(sql.INSERT_CREDIT_NOTE, number, invoice["issuer"], seq, p.dispute_id, p.invoice_number,
                           invoice["account_id"], invoice["currency"], credited, at, env.event_id)
        out.append(CreditNoteIssuedV1(credit_note_number=number, issuer=invoice["issuer"],
                                      invoice_number=p.invoice_number, dispute_id=p.dispute_id,
                                      account_id=invoice["account_id"], currency=invoice["currency"],
                                      amount=credited, issued_at=at))
        due = invoice["total"] - invoice["credited_total"] - credited
        refund = balances.refund_after_credit(due, invoice["surcharge_total"], sql.paid_net(invoice))
        if refund > 0:
            rid = balances.refund_id(p.dispute_id)
            due_at = balances.refund_due_at(at)
            await conn.execute(sql.INSERT_REFUND, rid, p.dispute_id, p.invoice_number, invoice["account_id"],
                               invoice["currency"], refund, at, due_at)
            out.append(RefundIssuedV1(refund_id=rid, invoice_number=p.invoice_number, dispute_id=p.dispute_id,
                                      account_id=invoice["account_id"], currency=invoice["currency"], amount=refund,
                                      issued_at=at, due_at=due_at))
        became_paid = invoice["status"] != "paid" and sql.paid_net(invoice) - refund >= due
        await conn.execute(sql.ADD_CREDIT_AND_REFUND, p.invoice_number, credited, refund, became_paid, at)
        if became_paid:  # the credit note left nothing due: paid by what was paid before
            out.append(InvoicePaidV1(invoice_number=p.invoice_number, account_id=invoice["account_id"],
                                     currency=invoice["currency"], total=invoice["total"],
                                     paid_total=invoice["paid_total"], paid_at=at))
    events = [wrap_event(e, invoice["account_id"], settings, now, env) for e in out]
    events.append(await amounts_changed(conn, settings, p.invoice_number, at, now, env))
    return events


# ------------------------------------------------------------------ refunds
async def pay_out_refund(conn: asyncpg.Connection, settings: Settings, refund_id: str, paid_out_at: datetime,
                         reference: str, now: datetime) -> dict:
    """Record that a refund was paid out (once: the same again answers the first recording)."""
    async with conn.transaction():
        row = await conn.fetchrow(sql.LOCK_REFUND, refund_id)
        if row is None:
            raise NotFound("unknown_refund", f"no refund {refund_id}")
        if row["paid_out_at"] is not None:
            if (row["paid_out_at"], row["payout_reference"] or "") != (paid_out_at, reference):
                raise Conflict("already_paid_out",
                               f"refund {refund_id} was paid out at {row['paid_out_at'].isoformat()}")
            return refund_json(row)
        await conn.execute(sql.PAY_OUT_REFUND, refund_id, paid_out_at, reference)
        event = RefundPaidOutV1(refund_id=refund_id, invoice_number=row["invoice_number"], account_id=row["account_id"],
                                currency=row["currency"], amount=row["amount"], paid_out_at=paid_out_at,
                                due_at=row["due_at"], late=paid_out_at > row["due_at"], reference=reference)
        await outbox.add(conn, settings.topic(INVOICING_EVENTS.name),
                         [wrap_event(event, row["account_id"], settings, now)])
        return refund_json(await conn.fetchrow(sql.GET_REFUND, refund_id), now)


async def mark_refunds_overdue(conn: asyncpg.Connection, settings: Settings, now: datetime, limit: int = 1000) -> int:
    """Mark refunds not paid out by their due instant overdue, each once, with a RefundOverdueV1."""
    async with conn.transaction():
        rows = await conn.fetch(sql.MARK_REFUNDS_OVERDUE, now, limit)
        events = [wrap_event(RefundOverdueV1(refund_id=r["refund_id"], invoice_number=r["invoice_number"],
                                             account_id=r["account_id"], currency=r["currency"], amount=r["amount"],
                                             due_at=r["due_at"], detected_at=now), r["account_id"], settings, now)
                  for r in rows]
        await outbox.add(conn, settings.topic(INVOICING_EVENTS.name), events)
    return len(events)


def refund_json(row: Any, now: datetime | None = None) -> dict:
    late = balances.refund_overdue(row["due_at"], row["paid_out_at"], now) if now else row["overdue_at"] is not None
    return {"refund_id": row["refund_id"], "invoice_number": row["invoice_number"], "dispute_id": row["dispute_id"],
            "account_id": row["account_id"], "currency": row["currency"], "amount": str(row["amount"]),
            "issued_at": row["issued_at"].isoformat(), "due_at": row["due_at"].isoformat(),
            "paid_out_at": row["paid_out_at"].isoformat() if row["paid_out_at"] else None,
            "payout_reference": row["payout_reference"], "overdue": late}


def credit_note_json(row: Any) -> dict:
    return {"credit_note_number": row["credit_note_number"], "issuer": row["issuer"],
            "invoice_number": row["invoice_number"], "dispute_id": row["dispute_id"], "account_id": row["account_id"],
            "currency": row["currency"], "amount": str(row["amount"]), "issued_at": row["issued_at"].isoformat()}


# ------------------------------------------------------------------ surcharge settings
async def set_surcharge(conn: asyncpg.Connection, issuer: str, policy: balances.SurchargePolicy, by: str,
                        now: datetime) -> dict:
    await conn.execute(sql.UPSERT_SURCHARGE, issuer, policy.threshold, policy.rate, now, by)
    return await surcharge_json(conn, issuer)


async def surcharge_json(conn: asyncpg.Connection, issuer: str) -> dict:
    policy = await sql.surcharge_policy(conn, issuer)
    return {"issuer": issuer, "threshold": str(policy.threshold), "rate": str(policy.rate),
            "default": policy == balances.DEFAULT_SURCHARGE and
            await conn.fetchrow(sql.GET_SURCHARGE, issuer) is None}
