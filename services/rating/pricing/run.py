"""The billing run for one account and month: a pure function of state known before the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Iterable, Sequence

from shared.calendar import (
    Month, as_month, day_of, metering_point, metering_point_utc, month_info, month_pieces, next_month, zone,
)
from .catalog import Catalog, PriceBook, Product
from .ledger import EMPTY_LEDGER, BilledLedger, LedgerUpdate
from .lines import ChargeLine, RunResult, build_frozen, make_line
from .packs import UserCounts, packs_for
from shared.money import round_money, round_ratio
from .timeline import Subscription, billable_interval
from .usage import UsageRecord, price_units

ZERO = Decimal(0)
_NONE: frozenset[str] = frozenset()
_ARRIVED = attrgetter("arrived_at")


@dataclass(frozen=True)  # not slots: live runs build them with lines.build_frozen (see Subscription)
class Account:
    """A billing account: its id, billing time zone (IANA name) and currency."""

    id: str
    time_zone: str = "UTC"
    currency: str = "USD"


def billing_run(
    month: Month | date | str,
    account: Account,
    catalog: Catalog,
    subscriptions: Iterable[Subscription],
    user_counts: Iterable[tuple[datetime, int]] = (),
    usage: Sequence[UsageRecord] = (),
    ledger: BilledLedger = EMPTY_LEDGER,
    price_book: PriceBook | None = None,
) -> RunResult:
    """Rate one account's run for `month`, at its metering point (1st, 00:00 in the account zone).

    Only facts before the metering point count; the run ignores later ones itself (a start, a
    removal or a usage arrival at/after it; user counts are taken at or before it), so a delayed
    run gives the on-time result. `termination_effective` dates must only be passed when the
    request was made before the metering point (the caller knows the request instant).

    Recurring and pack items: every unbilled piece of the billable interval in months <= M;
    an item still held at the metering point gets M's whole month in advance. Usage: every
    unrated record used in a month before M, one line per product, month and lateness.
    Amounts are exact until each line is rounded once, half-up.
    """
    target = month if type(month) is tuple else as_month(month)
    tz_name = account.time_zone
    mp = metering_point_utc(target, tz_name)
    m_info = month_info(target)
    m_first, m_next, _ = m_info
    products = catalog.products
    done_map = ledger.billed_through
    account_id = account.id
    lines: list[ChargeLine] = []
    through: dict[str, date] = {}
    counts: UserCounts | None = None  # built on the first pack only
    for sub in subscriptions:
        if sub.start >= mp:
            continue
        product = products[sub.part_number]
        done = done_map.get(sub.id)
        if (sub.end is None or sub.end >= mp) and sub.termination_effective is None and done is not None \
                and done >= m_first:
            if done >= m_next:
                continue  # already billed through the target month
            if done == m_first and product.kind == "recurring":  # the common case: M in advance
                lines.append(_in_advance_line(account_id, sub, product, m_info, catalog, price_book))
                through[sub.id] = m_next
                continue
        if product.kind == "pack" and counts is None:
            counts = UserCounts(list(user_counts))
        for line in _item_pieces(account_id, sub, product, target, mp, done, tz_name, catalog, price_book, counts):
            lines.append(line)
            through[sub.id] = line.to_date
    if usage:
        usage_lines, usage_units, rated = _usage_lines(
            target, mp, account_id, tz_name, catalog, usage, ledger, price_book)
        lines.extend(usage_lines)
    else:
        usage_units, rated = {}, _NONE
    # build_frozen: the same values as RunResult(...)/LedgerUpdate(...), without the frozen __init__;
    # the total goes in with them, as RunResult.total would cache it on its first read (whose lock,
    # in Python 3.11's cached_property, cost about 1 us per account)
    update = build_frozen(LedgerUpdate, {"billed_through": through, "usage_units": usage_units,
                                         "rated_usage_ids": rated})
    return build_frozen(RunResult, {"account": account_id, "month": target, "currency": catalog.currency,
                                    "lines": tuple(lines), "ledger_update": update,
                                    "total": sum([line.amount for line in lines], ZERO)})


def _in_advance_line(account_id: str, sub: Subscription, product: Product, month: tuple[date, date, int],
                     catalog: Catalog, price_book: PriceBook | None) -> ChargeLine:
    """A recurring item billed through the target month's 1st: that whole month in advance
    (`month` is its first day, next month's first day and its length). Most lines of a run."""
    first, nxt, days = month
    key = ("in_advance", sub.part_number, first, sub.quantity, id(price_book) if price_book is not None else None)
    shape = catalog.shapes.get(key)
    if shape is None:
        p = catalog.price(sub.part_number, first, price_book)  # pins the book: its id stays its own
        shape = catalog.shapes[key] = _fields(make_line(
            "", None, sub.part_number, first, nxt, sub.quantity, p.unit_price, p.version,
            round_money(p.unit_price * sub.quantity, catalog.currency), days, days, "in_advance",
            False, "", product.name or ""))
    return _line_of(shape, account_id, sub)


def _item_pieces(account_id: str, sub: Subscription, product: Product, target: Month, mp: datetime,
                 done: date | None, tz_name: str, catalog: Catalog, price_book: PriceBook | None,
                 counts: UserCounts | None) -> list[ChargeLine]:
    """A recurring or pack item's lines: one per month piece of its billable interval not yet
    billed (`done`), up to the target month; a pack's quantity comes from the user `counts`.
    A recurring item's pieces are decided by its product, interval, quantity and price book
    alone: they are worked out once per catalogue and such key, then stamped per subscription."""
    tz = zone(tz_name)
    start_day = day_of(sub.start, tz)
    # held to the day its termination takes effect, else to its removal's day: either way billed
    # for at least the product's minimum licence (section 2)
    if sub.termination_effective is not None:
        end_day = sub.termination_effective
    else:
        end_day = day_of(sub.end, tz) if sub.end is not None and sub.end < mp else None
    if end_day is not None:
        _, stop, held_to = billable_interval(start_day, end_day, product.minimum_days)
    else:
        stop, held_to = month_info(target)[1], None
    begin = start_day if done is None or done < start_day else done
    if product.kind == "pack":
        return list(_pieces(account_id, sub, product, target, begin, stop, held_to, start_day, tz_name, catalog,
                            price_book, counts))
    key = (sub.part_number, target, begin, stop, held_to, sub.quantity,
           id(price_book) if price_book is not None else None)
    shapes = catalog.shapes.get(key)
    if shapes is None:  # catalog.price pins the book: its id stays its own while the key lives
        shapes = catalog.shapes[key] = tuple(map(_fields, _pieces(
            "", sub, product, target, begin, stop, held_to, start_day, tz_name, catalog, price_book, None)))
    sid, quantity, customer = sub.id, sub.quantity, sub.customer
    return [build_frozen(ChargeLine, {**shape, "account": account_id, "subscription": sid, "quantity": quantity,
                                      "customer": customer}) for shape in shapes]


def _fields(line: ChargeLine) -> dict:
    return line.__dict__


def _line_of(shape: dict, account_id: str, sub: Subscription) -> ChargeLine:
    """The line of `shape` (a memoised line's fields) for `sub` of account `account_id`."""
    return build_frozen(ChargeLine, {**shape, "account": account_id, "subscription": sub.id,
                                     "quantity": sub.quantity, "customer": sub.customer})


def _pieces(account_id: str, sub: Subscription, product: Product, target: Month, begin: date, stop: date,
            held_to: date | None, start_day: date, tz_name: str, catalog: Catalog, price_book: PriceBook | None,
            counts: UserCounts | None) -> Iterable[ChargeLine]:
    """The lines of the month pieces of [begin, stop) up to the target month."""
    name = product.name or ""
    for piece_month, a, b in month_pieces(begin, stop, target):
        _, _, md = month_info(piece_month)
        days = (b - a).days
        p = catalog.price(sub.part_number, a, price_book)
        if product.kind == "pack":
            qty = _pack_quantity(sub, product, counts, piece_month, a, start_day, tz_name)
        else:
            qty = sub.quantity
        if days == md:
            amount = round_money(p.unit_price * qty, catalog.currency)
        else:
            amount = round_ratio(p.unit_price * qty * days, md, catalog.currency)
        yield make_line(account_id, sub.id, sub.part_number, a, b, qty, p.unit_price, p.version, amount, days,
                        md, _piece_rule(product.kind, piece_month == target, days == md,
                                        held_to is not None and b > held_to),
                        product_name=name, customer=sub.customer)


def _piece_rule(kind: str, in_target: bool, whole: bool, past_held: bool) -> str:
    """The rule that explains a piece: beyond the day it stopped being held, the minimum licence."""
    if past_held:
        return "minimum_licence"
    if kind == "pack":
        return "pack"
    if in_target:
        return "in_advance"
    return "arrears" if whole else "pro_rata_arrears"


def _pack_quantity(sub: Subscription, product: Product, counts: UserCounts, piece_month: Month, a: date,
                   start_day: date, tz_name: str) -> int:
    """Packs for a piece: from the user count at the pack's start for its first piece, else at
    the piece month's metering point."""
    when = sub.start if a == start_day else metering_point(piece_month, tz_name)
    return packs_for(counts.at(when), product.pack_size, product.minimum_packs)


def _usage_lines(target, mp, account_id, tz_name, catalog, usage, ledger, price_book):
    """Usage lines of the run: records arrived before `mp`, used before month `target`, not yet rated."""
    tz = zone(tz_name)
    known = ledger.rated_usage_ids
    rated: set[str] = set()
    groups: dict[tuple[Month, str, bool], Decimal] = {}
    for rec in sorted(usage, key=_ARRIVED):
        if rec.arrived_at >= mp or rec.id in known or rec.id in rated:
            continue
        used_day = day_of(rec.used_at, tz)
        used_month = (used_day.year, used_day.month)
        if used_month >= target:
            continue  # its month is not over yet: a later run rates it
        late = rec.arrived_at >= metering_point_utc(next_month(used_month), tz_name)
        rated.add(rec.id)
        key = (used_month, rec.part_number, late)
        groups[key] = groups.get(key, ZERO) + Decimal(rec.quantity)
    lines: list[ChargeLine] = []
    added: dict[tuple[str, date], Decimal] = {}
    book = id(price_book) if price_book is not None else None
    for (used_month, part, late), units in sorted(groups.items()):
        first, nxt, _ = month_info(used_month)
        key = (part, first)
        already = ledger.usage_units.get(key, ZERO) + added.get(key, ZERO)
        # the line is decided by these: numbers by their text, which keeps 40 and 40.0 apart
        shape_key = ("usage", part, first, late, str(already), str(units), book)
        shape = catalog.shapes.get(shape_key)
        if shape is None:  # catalog.price pins the book: its id stays its own while the key lives
            p = catalog.price(part, first, price_book)
            exact, note = price_units(p, already, units)
            shape = catalog.shapes[shape_key] = _fields(make_line(
                "", None, part, first, nxt, units, None if p.tiers else p.unit_price, p.version,
                round_money(exact, catalog.currency), None, None, "usage_late" if late else "usage",
                late, note, product_name=catalog.products[part].name or ""))
        lines.append(build_frozen(ChargeLine, {**shape, "account": account_id}))
        added[key] = added.get(key, ZERO) + units
    return lines, added, frozenset(rated)
