"""An account's credits: lots, the ledger's entries and notices, as pure operations on a plain state."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .vouchers import CENT, Voucher, lot_expiry

EntryKind = Literal["redeemed", "usage", "recurring", "expired", "shortfall_settled"]
DebitKind = Literal["usage", "recurring"]
NoticeKind = Literal["low_balance", "exhausted"]
DEBIT_KINDS: frozenset[str] = frozenset({"usage", "recurring"})
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Lot:
    """Credits from one redemption: `id` is the voucher's code (a code redeems once), `credits` as
    redeemed, `remaining` not yet drawn or expired, `seq` the sequence number of its `redeemed`
    entry. Lots are drawn in order of (`expires_at`, `seq`): first to expire, then first redeemed."""

    id: str
    redeemed_at: datetime
    expires_at: datetime
    credits: Decimal
    remaining: Decimal
    seq: int


def _draw_order(lot: Lot) -> tuple[datetime, int]:
    return (lot.expires_at, lot.seq)


@dataclass(frozen=True, slots=True)
class Draw:
    """What one entry took from one lot (a consumption row): `amount` > 0."""

    lot: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry. `amount` is the signed change to the balance (a debit is minus what it
    drew), `balance` the balance after it, `shortfall` (usage and recurring only) the part of the
    charge that could not be drawn, `draws` the lots it took from (they add up to -amount for a
    debit, an expiry or a settlement), `ref` what it was for (a voucher code, a product and
    month, a charge line)."""

    seq: int
    at: datetime
    kind: EntryKind
    amount: Decimal
    balance: Decimal
    shortfall: Decimal = ZERO
    draws: tuple[Draw, ...] = ()
    ref: str = ""

    @property
    def charged(self) -> Decimal:
        """What a usage or recurring entry charged, shortfall included (0 for other kinds)."""
        return self.shortfall - self.amount if self.kind in DEBIT_KINDS else ZERO


@dataclass(frozen=True, slots=True)
class Notice:
    """A `low_balance` or `exhausted` notice, made by the entry numbered `seq` at `at`."""

    kind: NoticeKind
    at: datetime
    balance: Decimal
    seq: int


@dataclass(frozen=True)
class CreditState:
    """One prepaid account's credits: what the service loads and saves around each operation.

    `lots` are the lots still holding credits, kept in draw order (sorted on construction, so
    they may be loaded in any order); the balance is their sum.
    `shortfall` is what debits could not draw and no redemption has settled yet (the balance is
    then 0). `exhausted_armed` is false from an `exhausted` notice until the balance is above
    zero again. `next_seq` numbers the account's next entry (1, 2, ...).
    """

    account: str
    time_zone: str = "UTC"
    low_balance_threshold: Decimal = ZERO
    lots: tuple[Lot, ...] = ()
    shortfall: Decimal = ZERO
    exhausted_armed: bool = True
    next_seq: int = 1
    first_redeemed_at: datetime | None = None

    def __post_init__(self) -> None:
        # draw order, whatever order the caller loaded the lots in
        lots = self.lots
        if len(lots) > 1 and any(_draw_order(a) > _draw_order(b) for a, b in zip(lots, lots[1:])):
            object.__setattr__(self, "lots", tuple(sorted(lots, key=_draw_order)))

    @property
    def balance(self) -> Decimal:
        return sum((lot.remaining for lot in self.lots), ZERO)

    @property
    def next_expiry(self) -> datetime | None:
        """The earliest expiry instant of a lot still holding credits (when `expire` has work)."""
        return min((lot.expires_at for lot in self.lots), default=None)


@dataclass(frozen=True)
class Step:
    """What an operation did: the new `state`, the `entries` and `notices` it made (in order) and
    the `lots` it created or changed (with their new `remaining`, 0 for one used up or expired)."""

    state: CreditState
    entries: tuple[Entry, ...] = ()
    notices: tuple[Notice, ...] = ()
    lots: tuple[Lot, ...] = field(default=())

    def then(self, other: "Step") -> "Step":
        """This step followed by `other` (which started from this step's state)."""
        if not (self.entries or self.lots):  # nothing happened yet (the common start of a debit)
            return other
        if not (other.entries or other.lots):
            return Step(other.state, self.entries, self.notices, self.lots)
        changed = {lot.id: lot for lot in self.lots}
        changed.update({lot.id: lot for lot in other.lots})
        return Step(other.state, self.entries + other.entries, self.notices + other.notices,
                    tuple(changed.values()))


def _credits(amount: Decimal, what: str) -> Decimal:
    """`amount` as credits with two decimals; finer amounts or negative ones are a caller's bug."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a Decimal >= 0 in whole cents, not {amount!r}")
    cents = amount.quantize(CENT)
    if cents != amount:
        raise ValueError(f"{what} must be in whole cents, not {amount!r}")
    return cents


def _notices(state: CreditState, before: Decimal, entry: Entry, shortfall_recorded: bool) -> tuple[
        tuple[Notice, ...], bool]:
    """The notices of one step that moved the balance from `before` to `entry.balance`, and
    whether `exhausted` is armed afterwards."""
    after, armed, out = entry.balance, state.exhausted_armed, []
    threshold = state.low_balance_threshold
    if threshold > 0 and before >= threshold > after:
        out.append(Notice("low_balance", entry.at, after, entry.seq))
    if armed and after == 0 and (before > 0 or shortfall_recorded):
        out.append(Notice("exhausted", entry.at, after, entry.seq))
        armed = False
    if after > 0:
        armed = True
    return tuple(out), armed


def _draw(lots: tuple[Lot, ...], amount: Decimal) -> tuple[tuple[Lot, ...], tuple[Draw, ...], tuple[Lot, ...]]:
    """Draw up to `amount` from `lots` in draw order: (lots left holding credits, draws, lots changed)."""
    left, kept, draws, changed = amount, [], [], []
    for lot in lots:
        if left > 0:
            take = min(lot.remaining, left)
            left -= take
            lot = Lot(lot.id, lot.redeemed_at, lot.expires_at, lot.credits, lot.remaining - take, lot.seq)
            draws.append(Draw(lot.id, take))
            changed.append(lot)
        if lot.remaining > 0:
            kept.append(lot)
    return tuple(kept), tuple(draws), tuple(changed)


def expire(state: CreditState, at: datetime, *, inclusive: bool = True) -> Step:
    """Every lot expiring at or before `at` (strictly before when not `inclusive`) leaves the
    balance: one `expired` entry per lot, at the lot's own expiry instant, in draw order. A lot
    already used up is not in the state and makes no entry."""
    step = Step(state)
    for lot in state.lots:
        if lot.expires_at > at or (not inclusive and lot.expires_at == at):
            break  # lots are in expiry order: the usual case ends here at once
        cur = step.state
        before = cur.balance
        lots = tuple(x for x in cur.lots if x.id != lot.id)
        entry = Entry(cur.next_seq, lot.expires_at, "expired", -lot.remaining, before - lot.remaining,
                      draws=(Draw(lot.id, lot.remaining),), ref=lot.id)
        notices, armed = _notices(cur, before, entry, False)
        new = replace(cur, lots=lots, next_seq=cur.next_seq + 1, exhausted_armed=armed)
        step = step.then(Step(new, (entry,), notices, (replace(lot, remaining=ZERO),)))
    return step


def debit(state: CreditState, at: datetime, kind: DebitKind, amount: Decimal, ref: str = "") -> Step:
    """Debit `amount` credits (>= 0, whole cents) of `kind` at `at`: drawn from the lots that
    expire first (equal expiry: redeemed first), one draw per lot drawn; what the balance cannot
    cover is recorded as a shortfall on the entry and added to the account's. A zero amount
    makes no entry.

    The expiries that precede it at its instant are applied first: a `usage` debit (the first
    step of an instant) may still draw from a lot expiring at `at`; a `recurring` one (an event)
    comes after that lot's expiry.
    """
    if kind not in DEBIT_KINDS:
        raise ValueError(f"not a debit kind: {kind!r}")
    amount = _credits(amount, "a debit")
    step = expire(state, at, inclusive=kind != "usage")
    if amount == 0:
        return step
    cur = step.state
    before = cur.balance
    lots, draws, changed = _draw(cur.lots, amount)
    drawn = sum((d.amount for d in draws), ZERO)
    short = amount - drawn
    entry = Entry(cur.next_seq, at, kind, ZERO - drawn, before - drawn, short, draws, ref)
    notices, armed = _notices(cur, before, entry, short > 0)
    new = CreditState(cur.account, cur.time_zone, cur.low_balance_threshold, lots, cur.shortfall + short,
                      armed, cur.next_seq + 1, cur.first_redeemed_at)  # not `replace`: the hot path
    return step.then(Step(new, (entry,), notices, changed))


def redeem(state: CreditState, at: datetime, voucher: Voucher) -> Step:
    """Redeem a (checked) voucher at `at`: a `redeemed` entry adding a lot of its credits that
    expires at 00:00 (account zone) of d(at) + lifetime; then, in the same step, an outstanding
    shortfall is settled from the new lot first (a `shortfall_settled` entry). Lots expiring at
    or before `at` expire first (expiries precede the events of an instant)."""
    step = expire(state, at)
    cur = step.state
    credits = _credits(voucher.credits, "credits")
    if credits == 0:
        raise ValueError("a voucher's credits are above zero")
    if any(lot.id == voucher.code for lot in cur.lots):
        raise ValueError(f"voucher {voucher.code} is already a lot of this account")
    before = cur.balance
    settled = min(cur.shortfall, credits)
    lot = Lot(voucher.code, at, lot_expiry(at, voucher.lifetime_days, cur.time_zone), credits,
              credits - settled, cur.next_seq)
    entries = [Entry(cur.next_seq, at, "redeemed", credits, before + credits, ref=voucher.code)]
    if settled > 0:
        entries.append(Entry(cur.next_seq + 1, at, "shortfall_settled", -settled, before + credits - settled,
                             draws=(Draw(lot.id, settled),), ref=voucher.code))
    lots = cur.lots + ((lot,) if lot.remaining > 0 else ())  # sorted by CreditState
    # one step: a redemption that its settlement leaves at zero sends no notice
    notices, armed = _notices(cur, before, entries[-1], False)
    new = replace(cur, lots=lots, shortfall=cur.shortfall - settled, next_seq=cur.next_seq + len(entries),
                  exhausted_armed=armed, first_redeemed_at=cur.first_redeemed_at or at)
    return step.then(Step(new, tuple(entries), notices, (lot,)))


@dataclass(frozen=True, slots=True)
class Charge:
    """A debit to make: `amount` credits (rounded once by the pricing core, >= 0) and what it is
    for (`ref`: a product and month of use, a charge line)."""

    amount: Decimal
    ref: str = ""


def run_debit_instant(metering_point: datetime, requested: datetime) -> datetime:
    """The instant of a run's debits (section 8: "at its instant: the metering point, or later if
    delayed"), live and in the scenario preview alike: the instant the run was requested, or the
    metering point for a run asked for before it. A run is at the instant it runs: the
    scheduler's, seconds after the metering point, is dated seconds after it (nothing of the
    account happens in between: that midnight's usage debit and expiries come first either way),
    and a run asked for at 10:00 is dated 10:00, after a redemption at 05:00, never before it.
    An earlier reading dated every run of the metering point's local day at the metering point,
    which put the 10:00 run's charges ahead of the 05:00 redemption in the preview (a shortfall
    and an `exhausted` notice nobody could have sent at midnight, and more of the new lot left to
    expire) while the live service, applying them on arrival, debited them after it."""
    return max(metering_point, requested)


def run_line_order(from_date, subscription: str | None, part_number: str, to_date) -> tuple:
    """The order a run's lines are debited in, live and in the scenario preview alike: by the first
    day billed, then subscription, then part number. Section 8 leaves it open; it matters when
    credits run short (which line carries the shortfall), so it must not depend on delivery order."""
    return (from_date, subscription or "", part_number, to_date)


def debit_all(state: CreditState, at: datetime, kind: DebitKind, charges: tuple[Charge, ...] | list[Charge]) -> Step:
    """`debit` of each charge in turn, at one instant (one entry per charge, in the given order)."""
    step = Step(state)
    for charge in charges:
        step = step.then(debit(step.state, at, kind, charge.amount, charge.ref))
    return step


def settle(state: CreditState, at: datetime, usage: tuple[Charge, ...] | list[Charge] = (),
           events: tuple[Voucher | Charge, ...] | list[Voucher | Charge] = ()) -> Step:
    """Every step at one instant, in section 8's order: the daily `usage` debit first (one entry
    per product and month of use, in the order given: month, then part number), then the lot
    expiries at or before `at`, then the `events` in order: a `Voucher` is a redemption, a
    `Charge` a recurring debit (a run's line)."""
    step = debit_all(state, at, "usage", usage)
    step = step.then(expire(step.state, at))
    for event in events:
        if isinstance(event, Voucher):
            step = step.then(redeem(step.state, at, event))
        else:
            step = step.then(debit(step.state, at, "recurring", event.amount, event.ref))
    return step
