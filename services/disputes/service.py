"""Disputes use cases: learn accounts and invoices, open and resolve disputes, mark them overdue,
set issuers' calendars. One transaction each (the subscriber's, or their own); a refusal raises
domain.DisputeRefused after writing nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from contracts import wrap
from contracts.common import CommandRejectedV1
from contracts.disputes import (DisputeOpenedV1, DisputeOverdueV1, DisputeResolvedV1, OpenDisputeV1,
                                ResolveDisputeV1)
from contracts.envelope import Contract, Envelope
from contracts.invoicing import InvoiceIssuedV1
from contracts.provisioning import AccountOpenedV1
from contracts.topics import DISPUTES_EVENTS, REJECTIONS
from services.disputes import domain, store
from services.disputes.domain import DisputeRefused
from shared import outbox
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenRequest:
    dispute_id: str
    invoice_number: str
    amount: Decimal
    reason: str
    lines: tuple[int, ...]
    received_at: datetime


@dataclass(frozen=True)
class ResolveRequest:
    dispute_id: str
    outcome: str
    credited: Decimal | None
    resolved_at: datetime


def _event(payload: Contract, key: str, settings: Settings, now: datetime, cause: Envelope | None = None) -> Envelope:
    return wrap(payload, key=key, producer=settings.service, occurred_at=now, cause=cause)


# ------------------------------------------------------------------ facts from other services
async def learn_accounts(conn: asyncpg.Connection, events: Sequence[AccountOpenedV1]) -> None:
    """Remember each account's parent (partner trees decide who sees which dispute)."""
    await store.insert_accounts(conn, [(p.account_id, p.parent_account_id) for p in events])


async def learn_invoices(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, InvoiceIssuedV1]]) -> None:
    """Remember each issued invoice: its number, account, issuer, currency, total and lines."""
    await store.insert_invoices(conn, [
        (p.invoice_number, p.account_id, p.issuer, p.currency, p.total, len(p.lines), p.issue_date, p.due_date,
         e.occurred_at) for e, p in events])


# ------------------------------------------------------------------ open
async def open_dispute(conn: asyncpg.Connection, settings: Settings, request: OpenRequest, now: datetime,
                       cause: Envelope | None = None) -> tuple[domain.Dispute, bool]:
    """Open a dispute: lock the invoice, check (section 9's refusals, in FORMAT.md's order:
    `unknown_invoice`, `duplicate_dispute`, `invalid_amount`, `amount_exceeds_disputable`),
    insert it and its DisputeOpenedV1. Returns the dispute and whether it is new: the same open
    repeated (same invoice, amount, reason and lines) returns the first one and writes nothing."""
    async with conn.transaction():
        invoice = await conn.fetchrow(store.LOCK_INVOICE, request.invoice_number)
        if invoice is None:
            raise DisputeRefused("unknown_invoice", f"no invoice {request.invoice_number}")
        previous = await _previous(conn, request)
        if previous is not None:
            return previous, False
        disputes = [store.to_dispute(r) for r in await conn.fetch(store.INVOICE_DISPUTES, request.invoice_number)]
        facts = store.invoice_facts(invoice, disputes)
        calendar = await store.calendar_of(conn, invoice["issuer"])
        dispute = domain.open_dispute(request.dispute_id, facts, request.amount, request.reason,
                                      request.received_at, calendar, [d.amount for d in disputes if d.is_open],
                                      request.lines)
        inserted = await conn.fetchval(
            store.INSERT_DISPUTE, dispute.dispute_id, dispute.invoice_number, dispute.account_id, dispute.issuer,
            dispute.currency, dispute.amount, dispute.reason, list(dispute.lines), dispute.received_at,
            dispute.due_at)
        if inserted is None:  # the same id opened meanwhile on another invoice (its lock is not ours)
            raise DisputeRefused("duplicate_dispute", f"dispute {request.dispute_id} exists already")
        opened = DisputeOpenedV1(
            dispute_id=dispute.dispute_id, invoice_number=dispute.invoice_number, account_id=dispute.account_id,
            issuer=dispute.issuer, currency=dispute.currency, amount=dispute.amount, reason=dispute.reason,
            lines=list(dispute.lines), received_at=dispute.received_at, due_at=dispute.due_at)
        await outbox.add(conn, settings.topic(DISPUTES_EVENTS.name),
                         [_event(opened, dispute.account_id, settings, now, cause)])
    return dispute, True


async def _previous(conn: asyncpg.Connection, request: OpenRequest) -> domain.Dispute | None:
    """The dispute this id opened before when the request repeats it; `duplicate_dispute` when
    the id was used for something else."""
    row = await conn.fetchrow(store.GET_DISPUTE, request.dispute_id)
    if row is None:
        return None
    previous = store.to_dispute(row)
    if domain.same_request(previous, request.invoice_number, request.amount, request.reason, sorted(request.lines)):
        return previous
    domain.check_unused_id(request.dispute_id, previous)
    return None  # unreachable: check_unused_id raised


# ------------------------------------------------------------------ resolve
async def resolve_dispute(conn: asyncpg.Connection, settings: Settings, request: ResolveRequest, now: datetime,
                          cause: Envelope | None = None) -> domain.Dispute:
    """Resolve a dispute once: lock it, check (`unknown_dispute`, `already_resolved`,
    `invalid_amount`, `credit_exceeds_disputed`), record the outcome and its DisputeResolvedV1
    (from which invoicing issues the credit note)."""
    async with conn.transaction():
        row = await conn.fetchrow(store.LOCK_DISPUTE, request.dispute_id)
        if row is None:
            raise DisputeRefused("unknown_dispute", f"no dispute {request.dispute_id}")
        d = domain.resolve(store.to_dispute(row), request.outcome, request.resolved_at, request.credited)
        if await conn.fetchval(store.RESOLVE, d.dispute_id, d.outcome, d.credited, d.resolved_at, d.late) is None:
            raise DisputeRefused("already_resolved", f"dispute {d.dispute_id} was resolved meanwhile")
        resolved = DisputeResolvedV1(
            dispute_id=d.dispute_id, invoice_number=d.invoice_number, account_id=d.account_id, issuer=d.issuer,
            currency=d.currency, outcome=d.outcome, amount=d.amount, credited=d.credited,
            received_at=d.received_at, due_at=d.due_at, resolved_at=d.resolved_at, late=d.late)
        await outbox.add(conn, settings.topic(DISPUTES_EVENTS.name),
                         [_event(resolved, d.account_id, settings, now, cause)])
    return d


# ------------------------------------------------------------------ commands
async def on_command(conn: asyncpg.Connection, settings: Settings, envelope: Envelope, command: Contract,
                     now: datetime) -> None:
    """Apply an OpenDisputeV1 or ResolveDisputeV1 in the subscriber's transaction; a refusal
    becomes a CommandRejectedV1 (in a savepoint: nothing of the command is kept)."""
    try:
        async with conn.transaction():
            if isinstance(command, OpenDisputeV1):
                await open_dispute(conn, settings, OpenRequest(
                    command.dispute_id, command.invoice_number, command.amount, command.reason,
                    tuple(command.lines), command.received_at), now, envelope)
            elif isinstance(command, ResolveDisputeV1):
                await resolve_dispute(conn, settings, ResolveRequest(
                    command.dispute_id, command.outcome, command.credited, command.resolved_at), now, envelope)
    except DisputeRefused as refused:
        log.info("%s %s refused: %s", envelope.type, envelope.event_id, refused)
        rejected = CommandRejectedV1(command_type=envelope.type, command_id=str(envelope.event_id),
                                     reason=refused.reason, detail=refused.detail,
                                     command=command.model_dump(mode="json"))
        await outbox.add(conn, settings.topic(REJECTIONS.name),
                         [_event(rejected, envelope.key, settings, now, envelope)])


# ------------------------------------------------------------------ overdue
async def mark_overdue(conn: asyncpg.Connection, settings: Settings, now: datetime, limit: int = 1000) -> int:
    """Mark open disputes strictly past their due instant overdue, each once, with a
    DisputeOverdueV1. Returns how many it marked."""
    async with conn.transaction():
        rows = await conn.fetch(store.OVERDUE_CANDIDATES, now, limit)
        due = {r["dispute_id"]: store.to_dispute(r) for r in rows}
        due = {k: d for k, d in due.items() if domain.is_overdue(d.due_at, now, d.resolved_at)}
        if not due:
            return 0
        marked = await conn.fetch(store.MARK_OVERDUE, list(due), now)
        events = []
        for m in marked:
            d = due[m["dispute_id"]]
            events.append(_event(DisputeOverdueV1(
                dispute_id=d.dispute_id, invoice_number=d.invoice_number, account_id=d.account_id,
                currency=d.currency, amount=d.amount, due_at=d.due_at, detected_at=now), d.account_id, settings, now))
        await outbox.add(conn, settings.topic(DISPUTES_EVENTS.name), events)
    return len(events)


# ------------------------------------------------------------------ calendars
async def set_calendar(conn: asyncpg.Connection, issuer: str, time_zone: str, holidays: Sequence[date],
                       now: datetime) -> domain.IssuerCalendar:
    """Set an issuer's calendar. Deadlines of disputes already received keep the calendar they
    were computed with; the new one applies to disputes received from now on."""
    calendar = domain.IssuerCalendar.of(time_zone, holidays)
    await conn.execute(store.UPSERT_CALENDAR, issuer, time_zone, sorted(set(holidays)), now)
    return calendar
