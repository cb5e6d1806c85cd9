"""prepaid_credit use cases fed by events and the clock: accounts, daily usage debits, a run's
recurring debits, expiries. One transaction each (the subscriber's, or their own)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from contracts.charges import expand, usage_item
from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1, AccountSettingsChangedV1
from contracts.rating import AccountChargesRatedV1, ChargeLineV1, PrepaidUsageItemV1, PrepaidUsageRatedV2
from contracts.registry import parse
from services.prepaid_credit import domain, ledger, store
from services.rating.pricing import day_of, metering_point, zone
from shared import task_failures
from shared.settings import Settings

log = logging.getLogger(__name__)

EXPIRY_TASK = "expiry"  # its name in task_failures
YIELD_EVERY = 500  # accounts applied between two yields to the event loop
NEVER = datetime.min.replace(tzinfo=zone("UTC"))  # what a charge of an account not known yet waits for


# ------------------------------------------------------------------ accounts
async def open_accounts(conn: asyncpg.Connection, settings: Settings,
                        events: Sequence[tuple[Envelope, AccountOpenedV1]], now: datetime) -> None:
    """Remember the accounts (first opening wins), then apply charges that waited for them."""
    if not events:
        return
    rows = [(p.account_id, p.parent_account_id, p.time_zone, p.mode, p.currency,
             p.low_balance_threshold, p.at) for _, p in events]
    await conn.execute(store.INSERT_ACCOUNTS, *map(list, zip(*rows)))
    await apply_waiting(conn, settings, [p.account_id for _, p in events], now)


async def change_settings(conn: asyncpg.Connection, events: Sequence[AccountSettingsChangedV1]) -> None:
    """A new low-balance threshold applies to the next steps; a mode switch from its instant on."""
    for e in events:
        if e.low_balance_threshold is not None:
            await conn.execute(store.SET_THRESHOLD, e.account_id, e.low_balance_threshold)
        if e.mode is not None and e.mode_effective_at is not None:
            await conn.execute(store.SAVE_MODE_CHANGE, e.account_id, e.mode_effective_at, e.mode)


# ------------------------------------------------------------------ charges
def line_ref(kind: str, line: ChargeLineV1, at: datetime | None = None) -> str:
    """What makes a line one debit, whoever delivers it how often: a recurring piece is its
    subscription (else product) and period; a usage line its midnight, product and month of use."""
    if kind == "usage":
        return f"usage:{at.isoformat()}:{line.part_number}:{line.from_date.isoformat()[:7]}"
    return f"recurring:{line.subscription_id or line.part_number}:{line.from_date}:{line.to_date}"


def _charges(kind: str, lines: Sequence[ChargeLineV1], at: datetime | None = None) -> tuple[list, dict]:
    """The domain's charges for `lines`, and each ref's detail for the history."""
    charges, details, seen = [], {}, defaultdict(int)
    if kind == "recurring":  # however rating ordered them (the preview debits in this order too)
        lines = sorted(lines, key=lambda x: domain.run_line_order(x.from_date, x.subscription_id, x.part_number,
                                                                  x.to_date))
    for line in lines:
        ref = line_ref(kind, line, at)
        seen[ref] += 1
        if seen[ref] > 1:  # the same piece twice in one message: its lines are still debited apart
            ref = f"{ref}#{seen[ref]}"
        charges.append(domain.Charge(line.amount, ref))
        # what the history shows of the line (rating's event keeps its whole explanation)
        details[ref] = {"part_number": line.part_number, "from": line.from_date.isoformat(),
                        "to": line.to_date.isoformat(), "quantity": str(line.quantity)}
    return charges, details


def run_instant(p: AccountChargesRatedV1, envelope: Envelope) -> datetime:
    """A run's debits are at its instant (`domain.run_debit_instant`), from the instant it was
    requested (`run_at`; when rating did not say, when it rated)."""
    mp = metering_point((int(p.month[:4]), int(p.month[5:])), p.time_zone)
    return domain.run_debit_instant(mp, p.run_at or envelope.occurred_at)


def midnight_before(at: datetime, tz: str) -> datetime:
    """The last local midnight at or before `at`: the usage debit that must precede a step at `at`."""
    day = day_of(at, zone(tz))
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz))


async def apply_charges(conn: asyncpg.Connection, settings: Settings, batch: Sequence[tuple[Envelope, object]],
                        now: datetime, partitions: list[int] | None = None) -> None:
    """Daily usage debits (`PrepaidUsageRatedV2`: one item per account and midnight, many
    accounts a batch; version 1 arrives upcast as a batch of one) and a run's prepaid charges
    (`AccountChargesRatedV2`, settlement `prepaid`, each item as its account's own event; version 1
    as a batch of one), per account in delivery order, in the
    caller's transaction. Section 8's order at one instant holds: a usage debit at midnight T
    expires the lots expiring before T, debits, then expires those at T and moves the account's
    usage watermark to T; a run's charges at instant t wait (waiting_charges) until the usage of
    the midnight before t is in. A usage debit at or before the watermark, and a run's line
    already debited (same ref), are skipped: a re-delivered or replayed message debits nothing
    twice. Charges of an account not known yet wait for it. `partitions`: those of
    prepaid_credit.events (the debits' notices are batched per partition)."""
    wanted = []
    for e, p in expand(batch, "prepaid"):  # a run's charges: each prepaid account's as its own event
        if isinstance(p, PrepaidUsageRatedV2):
            # each item as its own event: one that waits for its account is kept apart from the
            # batch's other accounts (each waits on its own, or was applied already)
            wanted += [(usage_item(e, n), item) for n, item in enumerate(p.items)]
        elif isinstance(p, AccountChargesRatedV1) and p.settlement == "prepaid":
            wanted.append((e, p))
    if not wanted:
        return
    loaded = await ledger.load(conn, [p.account_id for _, p in wanted])
    priced = [_charges("usage", p.lines, p.at) if isinstance(p, PrepaidUsageItemV1)
              else _charges("recurring", p.lines) for _, p in wanted]
    # a usage debit at or before the account's watermark was applied (all its lines at once, in
    # the transaction that moved it): only a run's lines need their refs looked up
    booked = await store.booked(conn, [(p.account_id, c.ref) for (_, p), (charges, _) in zip(wanted, priced)
                                       if isinstance(p, AccountChargesRatedV1) for c in charges])
    book, waiting = ledger.Book(settings, partitions=partitions), []
    watermark = {aid: row["usage_through"] for aid, (row, _) in loaded.items()}
    for aid, (_, state) in loaded.items():
        book.touch(state)
    for n, ((e, p), (charges, details)) in enumerate(zip(wanted, priced)):
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            # a batch of batches holds thousands of accounts: let the consumer's heartbeats run
            # (a loop busy past the session timeout would have its partitions taken away)
            await asyncio.sleep(0)
        if p.account_id not in loaded:
            waiting.append((e, p.account_id, NEVER, now))
            continue
        row = loaded[p.account_id][0]
        state = book.states[p.account_id]
        if isinstance(p, PrepaidUsageItemV1):
            if watermark[p.account_id] is not None and p.at <= watermark[p.account_id]:
                continue  # applied before: a redelivery or a replay
            # lots expiring before T go first (inside `debit`), the usage next, then those at T
            step = domain.debit_all(state, p.at, "usage", charges)
            step = step.then(domain.expire(step.state, p.at))
            book.add(step, details)
            watermark[p.account_id] = book.through[p.account_id] = p.at
            continue
        at = run_instant(p, e)
        needs = midnight_before(at, row["time_zone"])
        through = watermark[p.account_id]
        if needs > row["opened_at"] and (through is None or through < needs):
            waiting.append((e, p.account_id, needs, at))
            continue
        book.add(domain.debit_all(state, at, "recurring", _not_booked(p.account_id, charges, booked)), details)
    await book.save(conn)
    if waiting:
        await conn.execute(store.INSERT_WAITING, [w[0].event_id for w in waiting], [w[1] for w in waiting],
                           [w[2] for w in waiting], [w[3] for w in waiting], [w[0].encode() for w in waiting])
    if book.through:
        await apply_waiting(conn, settings, list(book.through), now, partitions)


def _not_booked(account_id: str, charges: list, booked: set) -> list:
    """The charges not debited before (nor earlier in this batch, which books them now)."""
    fresh = [c for c in charges if (account_id, c.ref) not in booked] if booked else charges
    booked.update((account_id, c.ref) for c in fresh)
    return fresh


async def apply_waiting(conn: asyncpg.Connection, settings: Settings, account_ids: list[str], now: datetime,
                        partitions: list[int] | None = None) -> None:
    """The waiting charges of these accounts whose usage watermark (or opening) has come."""
    ready = await conn.fetch(store.TAKE_READY, account_ids)
    if ready:
        decoded = [Envelope.decode(r["envelope"]) for r in ready]
        decoded.sort(key=lambda e: e.occurred_at)
        await apply_charges(conn, settings, [(e, parse(e)) for e in decoded], now, partitions)


# ------------------------------------------------------------------ expiry
async def expire_due(conn: asyncpg.Connection, settings: Settings, now: datetime, limit: int = 2000) -> int:
    """The expiry task's tick: every lot past its expiry instant leaves the balance, as an
    `expired` entry at that instant, once the account's usage debit of that midnight is in.
    An account whose data fails is skipped (task_failures). Returns the accounts done."""
    async with conn.transaction():
        due = {r["account_id"]: r["mode_now"] for r in await conn.fetch(store.EXPIRY_DUE, now, limit)}
        if not due:
            return 0
        loaded = await ledger.load(conn, list(due))
        book, failed = ledger.Book(settings), []
        for aid, (row, state) in loaded.items():
            until = now if due[aid] != "prepaid" else min(now, row["usage_through"] or now)
            try:
                book.add(domain.expire(state, until))
            except Exception as exc:  # this account's data: skipped, the others go on
                failed.append((aid, exc))
        await book.save(conn)
        await task_failures.record(conn, EXPIRY_TASK, failed, now)
        await task_failures.clear(conn, EXPIRY_TASK, [a for a in loaded if a not in dict(failed)])
        return len(loaded) - len(failed)


def window_start(at: datetime) -> datetime:
    """The start of the estimate's window with a day of slack (the domain cuts it exactly)."""
    return at - timedelta(days=domain.WINDOW_DAYS + 1)
