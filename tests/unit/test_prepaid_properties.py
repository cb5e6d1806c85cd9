"""Property tests of the credit ledger: whatever the redemptions, debits and expiries, it adds up."""

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from services.prepaid_credit.domain import CreditState, Step, Voucher, debit, expire, lifetime_estimate, redeem

UTC = timezone.utc
START = datetime(2026, 3, 1, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"]

cents = st.integers(0, 50_000).map(lambda n: D(n).scaleb(-2))
operations = st.lists(st.one_of(
    st.tuples(st.just("redeem"), st.integers(1, 50_000).map(lambda n: D(n).scaleb(-2)), st.integers(1, 40)),
    st.tuples(st.sampled_from(["usage", "recurring"]), cents, st.none()),
    st.tuples(st.just("expire"), st.none(), st.none()),
), max_size=40)
# minutes between one operation and the next: often 0 (several steps at one instant), sometimes days
gaps = st.lists(st.sampled_from([0, 0, 1, 60, 24 * 60, 3 * 24 * 60, 17 * 24 * 60 + 7]), min_size=40, max_size=40)


def play(zone, threshold, ops, waits) -> tuple[CreditState, Step, list[D]]:
    state = CreditState("a", zone, threshold)
    step = Step(state)
    at = START
    requested = []
    for n, ((op, amount, days), wait) in enumerate(zip(ops, waits)):
        at += timedelta(minutes=wait)
        if op == "redeem":
            nxt = redeem(step.state, at, Voucher(f"CODE{n}", amount, days))
        elif op == "expire":
            nxt = expire(step.state, at)
        else:
            nxt = debit(step.state, at, op, amount)
            requested.append(amount)
        step = step.then(nxt)
    return state, step, requested


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), cents, operations, gaps)
def test_the_ledger_adds_up(zone, threshold, ops, waits):
    _, step, requested = play(zone, threshold, ops, waits)
    entries, state = step.entries, step.state
    # the balance equals the sum of the entries, and each entry's balance follows from the one before
    assert state.balance == sum((e.amount for e in entries), D(0))
    running = D(0)
    for e in entries:
        running += e.amount
        assert e.balance == running and e.balance >= 0  # never below zero
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert state.next_seq == len(entries) + 1
    # each debit's draws add up to what it drew; with its shortfall, to what it charged
    debits = [e for e in entries if e.kind in ("usage", "recurring")]
    assert [e.charged for e in debits] == [a for a in requested if a > 0]
    for e in entries:
        assert all(d.amount > 0 for d in e.draws)
        if e.kind != "redeemed":
            assert sum((d.amount for d in e.draws), D(0)) == -e.amount
    # outstanding shortfall = recorded minus settled; the balance is zero while one is outstanding
    settled = sum((-e.amount for e in entries if e.kind == "shortfall_settled"), D(0))
    assert state.shortfall == sum((e.shortfall for e in entries), D(0)) - settled >= 0
    assert state.shortfall == 0 or state.balance == 0


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), operations, gaps)
def test_no_lot_is_drawn_past_its_credits_or_after_its_expiry(zone, ops, waits):
    _, step, _ = play(zone, D(0), ops, waits)
    lots = {}
    for e in step.entries:
        if e.kind == "redeemed":
            lots[e.ref] = e
    expiry = {lot.id: lot.expires_at for lot in step.lots}
    credits = {lot.id: lot.credits for lot in step.lots}
    drawn = defaultdict(lambda: D(0))
    for e in step.entries:
        for d in e.draws:
            drawn[d.lot] += d.amount
            assert drawn[d.lot] <= credits[d.lot]
            assert lots[d.lot].at <= e.at <= expiry[d.lot]
            if e.kind in ("recurring", "shortfall_settled"):
                assert e.at < expiry[d.lot]  # events of an instant come after its expiries
    for lot in step.lots:
        assert lot.remaining == lot.credits - drawn[lot.id]
        assert lot.id in {x.id for x in step.state.lots} or lot.remaining == 0
    # a lot whose expiry has come holds nothing once expiries ran
    last = step.entries[-1].at if step.entries else START
    after = expire(step.state, last)
    assert all(lot.expires_at > last for lot in after.state.lots)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), operations, gaps, st.integers(0, 90))
def test_the_estimate_is_none_at_zero_else_within_the_lots_life(zone, ops, waits, days):
    _, step, _ = play(zone, D(0), ops, waits)
    state = step.state
    at = (step.entries[-1].at if step.entries else START) + timedelta(days=days)
    estimate = lifetime_estimate(step.entries, state.lots, at, zone, state.first_redeemed_at)
    holding = [lot for lot in state.lots if lot.expires_at > at]
    if not holding:
        assert estimate is None
    else:
        local = at.astimezone(holding[0].expires_at.tzinfo).date()
        assert local <= estimate <= max(lot.expires_at for lot in holding).date()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ZONES), cents, operations, gaps)
def test_notices_come_once_per_crossing(zone, threshold, ops, waits):
    _, step, _ = play(zone, threshold, ops, waits)
    by_seq = {e.seq: e for e in step.entries}
    before = {e.seq: e.balance - e.amount for e in step.entries}
    for e in step.entries:  # a redemption and its settlement are one step: judged from before both
        if e.kind == "shortfall_settled":
            before[e.seq] = before[e.seq - 1]
    low = {n.seq for n in step.notices if n.kind == "low_balance"}
    # low_balance: exactly the entries that cross from at or above the threshold to below it
    crossing = {e.seq for e in step.entries if threshold > 0 and before[e.seq] >= threshold > e.balance}
    assert low == crossing
    # exhausted: at a zero balance, reached from above or with a shortfall; never twice without
    # the balance going above zero in between
    last_exhausted = None
    for n in step.notices:
        if n.kind != "exhausted":
            continue
        e = by_seq[n.seq]
        assert e.balance == 0 and (before[e.seq] > 0 or e.shortfall > 0)
        if last_exhausted is not None:
            assert any(x.balance > 0 for x in step.entries if last_exhausted < x.seq < n.seq)
        last_exhausted = n.seq
