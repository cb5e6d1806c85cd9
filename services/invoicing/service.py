"""Invoicing use cases fed by events and the scheduler: accounts, invoices from rated charges,
run requests and summaries, overdue invoices, usage copies. One transaction each (the
subscriber's, or their own)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from operator import itemgetter

import asyncpg
import orjson

from contracts.charges import ChargesItem, expand, parse_lean
from contracts.envelope import Contract, Envelope, wrap
from contracts.invoicing import InvoiceOverdueV1
from contracts.provisioning import AccountOpenedV1
from contracts.rating import BillingRunRatedV1, RequestBillingRunV1
from contracts.topics import INVOICING_EVENTS, RATING_REQUESTS
from contracts.usage import UsageRecordedV1
from services.invoicing import balances, domain, issued_events, quarantine, store
from shared import faults, metrics, outbox, task_failures
from shared.settings import Settings
from shared.transient import TRANSIENT

log = logging.getLogger(__name__)

SCHEDULER_TASK, OVERDUE_TASK = "billing_runs", "overdue"  # names in task_failures
RUN_REQUEST_CHUNK = 5_000  # accounts per scheduler page and scheduled request: a message well under 1 MB


def wrap_event(payload: Contract, key: str, settings: Settings, now: datetime,
               cause: Envelope | None = None) -> Envelope:
    """`contracts.wrap` with this service as the producer."""
    return wrap(payload, key=key, producer=settings.service, occurred_at=now, cause=cause)


# ------------------------------------------------------------------ accounts
async def open_accounts(conn: asyncpg.Connection, settings: Settings,
                        events: Sequence[tuple[Envelope, AccountOpenedV1]], now: datetime) -> int:
    """Remember the accounts (first opening wins), then issue any charges that waited for them."""
    if not events:
        return 0
    rows = [(p.account_id, p.parent_account_id, domain.issuer_of(p.parent_account_id), p.time_zone,
             p.mode, p.currency, p.payment_terms_days, p.at, p.automatic_runs) for _, p in events]
    await conn.execute(store.LOCK_PENDING)
    await conn.execute(store.INSERT_ACCOUNTS, *map(list, zip(*rows)))
    waiting = await conn.fetch(store.TAKE_PENDING, [p.account_id for _, p in events])
    if waiting:
        decoded = [Envelope.decode(r["envelope"]) for r in waiting]  # each an account's own (version 1)
        await issue_invoices(conn, settings, expand([(e, parse_lean(e)) for e in decoded]), now)
    return len(rows)


# ------------------------------------------------------------------ invoices
async def issue_invoices(conn: asyncpg.Connection, settings: Settings,
                         charges: Sequence[tuple[Envelope, ChargesItem]], now: datetime) -> int:
    """One invoice per account and month from rated charges of settlement `invoice` (see
    `_issue`; each account's own, as `contracts.charges.parse_lean` and `expand` give them). A
    charge whose invoice cannot be issued is quarantined with its reason instead of failing the
    batch: a batch whose statements fail as a whole is issued again charge by charge, each in a
    savepoint. Database and network failures still fail the batch (it is retried)."""
    try:
        async with conn.transaction():  # a savepoint in the subscriber's transaction
            issued = await _issue(conn, settings, charges, now)
        if issued:
            faults.point("invoices-issued")  # the fault suite's kill mid-run, before the commit
        return issued
    except TRANSIENT:
        raise
    except Exception:
        log.warning("a batch of %d charges failed as a whole; issuing it charge by charge", len(charges),
                    exc_info=True)
    issued = 0
    for e, p in charges:
        try:
            async with conn.transaction():
                issued += await _issue(conn, settings, [(e, p)], now)
        except TRANSIENT:
            raise
        except Exception as exc:
            await _quarantine(conn, [(e, p, exc)], now)
    return issued


async def _quarantine(conn: asyncpg.Connection, failed: list[tuple[Envelope, ChargesItem, Exception]],
                      now: datetime) -> None:
    for _, p, exc in failed:
        log.warning("run %s: charges of account %r quarantined: %s: %s", p.run_id, p.account_id,
                    type(exc).__name__, exc)
    await quarantine.save(conn, [(e, p, type(exc).__name__, str(exc) or repr(exc)) for e, p, exc in failed], now)
    metrics.QUARANTINED.labels("invoicing").inc(len(failed))


async def _issue(conn: asyncpg.Connection, settings: Settings,
                 charges: Sequence[tuple[Envelope, ChargesItem]], now: datetime) -> int:
    """One invoice per account and month from rated charges of settlement `invoice`, set-based:
    existing (account, month) pairs are skipped, the issuers' counters are locked and moved once
    for the batch, invoices and their InvoiceIssuedV1 events are inserted in one statement each.
    Everything that does not need the numbers (the rows, the events encoded) comes before the
    counters' lock, held to the commit, where the replicas serialise. Charges of accounts not known yet wait in pending_charges; a charge whose invoice cannot be
    assembled (a due date past the calendar) is quarantined. Returns the invoices issued."""
    invoiced = [(e, p) for e, p in charges if p.settlement == "invoice"]
    empty: dict[tuple[str, str], int] = {}
    for _, p in invoiced:
        if not p.lines:
            empty[(p.run_id, p.month)] = empty.get((p.run_id, p.month), 0) + 1
    if empty:
        keys = list(empty)
        await conn.execute(store.ADD_EMPTY_ACCOUNTS, [k[0] for k in keys], [k[1] for k in keys],
                           [empty[k] for k in keys])
    with_lines = [(e, p) for e, p in invoiced if p.lines]
    if not with_lines:
        return 0
    issuer_of = await store.issuers_of(conn, {p.account_id for _, p in with_lines})
    if any(p.account_id not in issuer_of for _, p in with_lines):
        await conn.execute(store.LOCK_PENDING)  # then look again: the opening may have just committed
        issuer_of = await store.issuers_of(conn, {p.account_id for _, p in with_lines})
    unknown = [(e, p) for e, p in with_lines if p.account_id not in issuer_of]
    if unknown:
        log.warning("%d charges for accounts not opened yet: kept until they are", len(unknown))
        await conn.execute(store.INSERT_PENDING, [e.event_id for e, _ in unknown],
                           [p.account_id for _, p in unknown], [e.encode() for e, _ in unknown], now)
    batch: dict[tuple[str, str], tuple[Envelope, ChargesItem]] = {}
    for e, p in with_lines:
        if p.account_id in issuer_of:
            batch.setdefault((p.account_id, p.month), (e, p))
    existing = await store.existing_invoices(conn, list(batch))
    todo, invoices, failed = [], [], []
    for k in batch:
        if k in existing:
            continue
        e, p = batch[k]
        try:
            invoice = domain.assemble_invoice(p.account_id, domain.parse_month(p.month), p.currency, p.lines,
                                              p.payment_terms_days, itemgetter("amount"))
        except Exception as exc:  # this account's charge: its own failure
            failed.append((e, p, exc))
            continue
        todo.append((e, p))
        invoices.append(invoice)
    await _quarantine(conn, failed, now)
    if not todo:
        return 0
    issuers = [issuer_of[p.account_id] for _, p in todo]
    counts: dict[str, int] = {}
    for issuer in issuers:
        counts[issuer] = counts.get(issuer, 0) + 1
    issued: dict[tuple[str, str], list] = {}
    for inv, (_, p) in zip(invoices, todo):
        count_total = issued.setdefault((p.run_id, inv.currency), [0, Decimal(0)])
        count_total[0] += 1
        count_total[1] += inv.total
    # the lines as JSON once: stored as they are and embedded as they are in the event
    lines = [orjson.dumps(e.payload["lines"]) for e, _ in todo]
    events = issued_events.encode(
        [{"issuer": issuer, "account_id": inv.account, "month": p.month, "run_id": p.run_id,
          "issue_date": inv.issue_date.isoformat(), "due_date": inv.due_date.isoformat(),
          "currency": inv.currency, "total": str(inv.total), "lines": orjson.Fragment(text)}
         for issuer, inv, (_, p), text in zip(issuers, invoices, todo, lines)],
        [e for e, _ in todo], settings.service, now)
    rows = [(issuer, i.account, p.month, p.run_id, i.currency, i.issue_date, i.due_date, str(i.total),
             orjson.Fragment(text), e.event_id) for issuer, i, (e, p), text in zip(issuers, invoices, todo, lines)]
    keys = sorted(issued)
    await store.ensure_sequences(conn, list(counts))
    # from here to the commit the issuers' counters are locked (gapless numbers): only what needs
    # the numbers happens after this line
    last = await store.reserve_numbers(conn, counts)
    numbers = domain.number_invoices(issuers, last)
    await store.insert_invoices(conn, [(number, row[0], int(number.rsplit("-", 1)[1]), *row[1:])
                                       for number, row in zip(numbers, rows)], now)
    await conn.execute(store.ADD_RUN_INVOICES, [k[0] for k in keys], [k[1] for k in keys],
                       [issued[k][0] for k in keys], [issued[k][1] for k in keys])
    await outbox.add_encoded(conn, settings.topic(INVOICING_EVENTS.name), issued_events.numbered(events, numbers))
    return len(events)


# ------------------------------------------------------------------ runs
async def request_run(conn: asyncpg.Connection, settings: Settings, month: str, now: datetime,
                      requested_by: str = "operator", account_ids: list[str] | None = None) -> str:
    """Record a billing-run request and send RequestBillingRunV1 (key: the month) through the outbox."""
    domain.parse_month(month)
    run_id = f"{month}-{uuid.uuid4().hex[:12]}"
    command = RequestBillingRunV1(run_id=run_id, month=month, requested_at=now, requested_by=requested_by,
                                  account_ids=account_ids)
    async with conn.transaction():
        await conn.execute(store.INSERT_RUN_REQUEST, run_id, month, now, requested_by, account_ids)
        await outbox.add(conn, settings.topic(RATING_REQUESTS.name), [wrap_event(command, month, settings, now)])
    return run_id


async def request_due_runs(conn: asyncpg.Connection, settings: Settings, now: datetime) -> list[str]:
    """The scheduler's tick: request the current month's run for every account whose metering
    point (1st, 00:00 in its zone) has passed and whose run for that month was not requested."""
    latest = (now.astimezone(timezone.utc) + timedelta(hours=14)).strftime("%Y-%m")
    run_ids = []
    failed: list[tuple[str, Exception]] = []
    async with conn.transaction():
        after = ""  # keyset paging: an account's months are all requested from its own page, in order
        while rows := await conn.fetch(store.ACCOUNTS_MAYBE_DUE, latest, after, RUN_REQUEST_CHUNK):
            after = rows[-1]["account_id"]
            known = [domain.KnownAccount(r["account_id"], r["time_zone"], r["opened_at"], r["last_requested_month"])
                     for r in rows]
            for month, ids in sorted(domain.runs_due(known, now, failed).items()):
                marked = await conn.fetch(store.MARK_REQUESTED, ids, month)
                await task_failures.clear(conn, SCHEDULER_TASK, [r["account_id"] for r in marked])
                if marked:
                    run_ids.append(await request_run(conn, settings, month, now, "scheduler",
                                                     sorted(r["account_id"] for r in marked)))
        await task_failures.record(conn, SCHEDULER_TASK, failed, now)
    return run_ids


async def record_run_summary(conn: asyncpg.Connection, event: BillingRunRatedV1) -> None:
    await conn.execute(store.UPSERT_RUN_SUMMARY, event.run_id, event.month, event.model_dump(mode="json"),
                       event.rated_at)


# ------------------------------------------------------------------ overdue
async def mark_overdue(conn: asyncpg.Connection, settings: Settings, now: datetime, limit: int = 1000) -> int:
    """Mark invoices overdue, each once, with an InvoiceOverdueV1 event: from the day after the due
    date (account zone), by their undisputed unpaid amount (section 7: due − open disputed − paid
    above zero; an invoice whose unpaid amount is all disputed waits for the resolution)."""
    cutoff = now.astimezone(timezone.utc).date() + timedelta(days=1)
    async with conn.transaction():
        rows = await conn.fetch(store.OVERDUE_CANDIDATES, cutoff, limit)
        due, failed = {}, []
        for r in rows:
            try:
                amounts = balances.amounts(r["total"], r["credited_total"], r["paid_total"], r["refunded_total"],
                                           r["surcharge_total"], r["disputed_open"],
                                           balances.past_due(r["due_date"], r["time_zone"], now))
                if amounts.overdue > 0:
                    due[r["invoice_number"]] = (r, amounts)
            except Exception as exc:  # this account's data (its zone): skipped, the others go on
                failed.append((r["account_id"], exc))
        await task_failures.record(conn, OVERDUE_TASK, failed, now)
        if not due:
            return 0
        marked = await conn.fetch(store.MARK_OVERDUE, list(due), now)
        events = []
        for m in marked:
            r, amounts = due[m["invoice_number"]]
            events.append(wrap_event(InvoiceOverdueV1(
                invoice_number=r["invoice_number"], account_id=r["account_id"], currency=r["currency"],
                due_date=r["due_date"], outstanding=amounts.outstanding, overdue=amounts.overdue,
                detected_at=now), r["account_id"], settings, now))
        await outbox.add(conn, settings.topic(INVOICING_EVENTS.name), events)
    return len(events)


# ------------------------------------------------------------------ usage
async def record_usage(conn: asyncpg.Connection, events: Sequence[tuple[Envelope, UsageRecordedV1]]) -> None:
    """Keep a copy of the usage records (a known record id is ignored) for the CSV exports."""
    await store.insert_usage(conn, [(p.record_id, p.account_id, p.part_number, p.quantity, p.used_at,
                                     p.received_at or e.occurred_at) for e, p in events])
