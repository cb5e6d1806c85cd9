"""prepaid_credit's pure core: vouchers' rules, lots drawn first-to-expire, shortfalls, expiry, notices."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from services.prepaid_credit.domain import (
    REFUSAL_REASONS, Charge, CreditState, IssuedVoucher, Voucher, VoucherRefused, check_issue, check_redemption,
    debit, expire, lifetime_estimate, lot_expiry, redeem, run_debit_instant, settle,
)

UTC = timezone.utc


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def v(code: str, credits: str, days: int) -> Voucher:
    return Voucher(code, D(credits), days)


# ---------------------------------------------------------------------------- vouchers
@pytest.mark.parametrize("code, credits, days, reason", [
    ("ABC", "10.00", 1, "invalid_voucher"),                 # 3 characters
    ("A" * 33, "10.00", 1, "invalid_voucher"),              # 33 characters
    ("AB-12", "10.00", 1, "invalid_voucher"),               # not alphanumeric
    ("ÄBCD", "10.00", 1, "invalid_voucher"),                # ASCII letters only
    ("ABCD", "0.00", 1, "invalid_voucher"),                 # credits above zero
    ("ABCD", "-5.00", 1, "invalid_voucher"),
    ("ABCD", "1.005", 1, "invalid_voucher"),                # credits carry two decimals
    ("ABCD", "ten", 1, "invalid_voucher"),
    ("ABCD", "10.00", 0, "invalid_voucher"),                # lifetime at least one day
    ("ABCD", "10.00", True, "invalid_voucher"),
])
def test_invalid_vouchers_are_refused(code, credits, days, reason):
    with pytest.raises(VoucherRefused) as refused:
        check_issue(code, credits, days, known=False)
    assert refused.value.reason == reason


def test_a_valid_voucher_and_a_code_issued_twice():
    assert check_issue("abcd", "10", 1, known=False) == Voucher("abcd", D("10.00"), 1)
    assert check_issue("Z" * 32, D("0.01"), 365, known=False).credits == D("0.01")
    with pytest.raises(VoucherRefused) as refused:
        check_issue("ABCD", "10.00", 1, known=True)
    assert refused.value.reason == "duplicate_voucher"
    with pytest.raises(VoucherRefused) as refused:  # invalid comes before duplicate
        check_issue("AB", "10.00", 1, known=True)
    assert refused.value.reason == "invalid_voucher"


ISSUED = IssuedVoucher(v("ABCD", "10.00", 30), t("2026-03-01T00:00:00Z"))
USED = replace(ISSUED, redeemed_by="other", redeemed_at=t("2026-03-02T00:00:00Z"))


@pytest.mark.parametrize("code, issued, prepaid, reason", [
    ("AB", None, True, "invalid_voucher"),
    ("AB", None, False, "invalid_voucher"),
    ("ABCD", None, True, "unknown_voucher"),
    ("ABCD", None, False, "unknown_voucher"),
    ("ABCD", USED, True, "voucher_already_redeemed"),
    ("ABCD", USED, False, "voucher_already_redeemed"),
    ("ABCD", ISSUED, False, "not_prepaid"),
])
def test_redemption_refusals_in_their_order(code, issued, prepaid, reason):
    with pytest.raises(VoucherRefused) as refused:
        check_redemption(code, issued, prepaid)
    assert refused.value.reason == reason
    assert REFUSAL_REASONS.index(reason) >= 0


def test_a_redemption_of_an_issued_voucher_by_a_prepaid_account():
    assert check_redemption("ABCD", ISSUED, True) == ISSUED.voucher
    assert ISSUED.state == "issued" and USED.state == "redeemed"


@pytest.mark.parametrize("redeemed_at, days, zone, expires", [
    ("2026-03-03T12:00:00Z", 60, "UTC", "2026-05-02T00:00:00Z"),          # section 8's example
    ("2026-03-03T23:59:59Z", 1, "UTC", "2026-03-04T00:00:00Z"),
    ("2026-03-03T23:30:00Z", 1, "Europe/Berlin", "2026-03-04T23:00:00Z"),  # 00:30 local on 03-04
    ("2026-03-28T12:00:00Z", 1, "Europe/Berlin", "2026-03-28T23:00:00Z"),  # 03-29 00:00 CET (DST that night)
    ("2026-03-29T12:00:00Z", 1, "Europe/Berlin", "2026-03-29T22:00:00Z"),  # 03-30 00:00 CEST
    ("2028-02-28T12:00:00Z", 2, "UTC", "2028-03-01T00:00:00Z"),            # leap year: 02-29 counts
])
def test_a_lot_expires_at_midnight_of_its_day_plus_lifetime(redeemed_at, days, zone, expires):
    assert lot_expiry(t(redeemed_at), days, zone) == t(expires)


@pytest.mark.parametrize("requested, debited", [
    ("2026-03-31T20:00:00Z", "2026-03-31T22:00:00Z"),  # asked for before the metering point: at it
    ("2026-03-31T22:00:00Z", "2026-03-31T22:00:00Z"),  # on the metering point
    ("2026-03-31T22:00:03Z", "2026-03-31T22:00:03Z"),  # the scheduler's, seconds after it
    ("2026-04-01T08:00:00Z", "2026-04-01T08:00:00Z"),  # hours later the same local day: at its instant
    ("2026-04-05T08:00:00Z", "2026-04-05T08:00:00Z"),  # days later
])
def test_a_run_debits_at_its_instant_never_before_the_metering_point(requested, debited):
    # Europe/Berlin's April metering point is 2026-03-31T22:00Z (section 8: "at its instant: the
    # metering point, or later if delayed")
    assert run_debit_instant(t("2026-03-31T22:00:00Z"), t(requested)) == t(debited)


# ---------------------------------------------------------------------------- the worked example
def fax_co():
    """Section 8's worked example, step by step."""
    state = CreditState("fax-co", "UTC", D("300.00"))
    steps = [settle(state, t("2026-03-03T12:00:00Z"), events=[v("FAXCO500", "500.00", 60)])]
    steps.append(settle(steps[-1].state, t("2026-03-11T00:00:00Z"), usage=[Charge(D("10.00"), "FAX 2026-03")]))
    steps.append(settle(steps[-1].state, t("2026-04-01T00:00:00Z"),
                        events=[Charge(D("93.55"), "n1 03"), Charge(D("100.00"), "n1 04")]))
    steps.append(settle(steps[-1].state, t("2026-05-01T00:00:00Z"), events=[Charge(D("100.00"), "n1 05")]))
    steps.append(settle(steps[-1].state, t("2026-05-02T00:00:00Z")))
    return steps


def test_section_8_worked_example_history_and_notices():
    steps = fax_co()
    entries = [e for s in steps for e in s.entries]
    assert [(e.at.isoformat()[:16], e.kind, str(e.amount), str(e.balance)) for e in entries] == [
        ("2026-03-03T12:00", "redeemed", "500.00", "500.00"),
        ("2026-03-11T00:00", "usage", "-10.00", "490.00"),
        ("2026-04-01T00:00", "recurring", "-93.55", "396.45"),
        ("2026-04-01T00:00", "recurring", "-100.00", "296.45"),
        ("2026-05-01T00:00", "recurring", "-100.00", "196.45"),
        ("2026-05-02T00:00", "expired", "-196.45", "0.00"),
    ]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    notices = [(n.kind, n.at, n.seq) for s in steps for n in s.notices]
    assert notices == [("low_balance", t("2026-04-01T00:00:00Z"), 4), ("exhausted", t("2026-05-02T00:00:00Z"), 6)]
    assert steps[-1].state.balance == 0 and steps[-1].state.lots == ()
    assert steps[-1].lots[0].remaining == 0  # the expired lot, for the store to save


def test_section_8_estimate_on_april_15():
    steps = fax_co()[:3]
    entries = [e for s in steps for e in s.entries]
    state = steps[-1].state
    assert state.balance == D("296.45")
    assert lifetime_estimate(entries, state.lots, t("2026-04-15T00:00:00Z")) == date(2026, 5, 2)
    # without the bound: 296.45 / (193.55 / 30) = 45.95 -> 45 days from 04-15
    long_lot = [replace(state.lots[0], expires_at=t("2026-09-01T00:00:00Z"))]
    assert lifetime_estimate(entries, long_lot, t("2026-04-15T00:00:00Z")) == date(2026, 5, 30)


# ---------------------------------------------------------------------------- draws, shortfall, expiry
def redeemed(*vouchers: tuple[str, str, int, str], threshold: str = "0.00", zone: str = "UTC"):
    state = CreditState("a", zone, D(threshold))
    for code, credits, days, at in vouchers:
        state = redeem(state, t(at), v(code, credits, days)).state
    return state


def test_a_debit_draws_first_to_expire_then_first_redeemed():
    state = redeemed(("LATE", "50.00", 90, "2026-03-01T10:00:00Z"), ("SOON", "30.00", 10, "2026-03-01T11:00:00Z"),
                     ("SAME1", "20.00", 9, "2026-03-02T09:00:00Z"), ("SAME2", "20.00", 9, "2026-03-02T08:00:00Z"))
    # SOON, SAME1 and SAME2 all expire 03-11 00:00; SAME1 was redeemed before SAME2 (its entry first)
    step = debit(state, t("2026-03-05T00:00:00Z"), "usage", D("75.00"))
    [entry] = step.entries
    assert [(d.lot, str(d.amount)) for d in entry.draws] == [("SOON", "30.00"), ("SAME1", "20.00"),
                                                              ("SAME2", "20.00"), ("LATE", "5.00")]
    assert entry.amount == D("-75.00") and entry.balance == D("45.00") and entry.shortfall == 0
    assert [lot.id for lot in step.state.lots] == ["LATE"]
    assert {lot.id: lot.remaining for lot in step.lots} == {"SOON": 0, "SAME1": 0, "SAME2": 0, "LATE": D("45.00")}


def test_a_debit_past_the_balance_records_a_shortfall_settled_by_the_next_redemption():
    state = redeemed(("AAAA", "40.00", 30, "2026-03-01T00:00:00Z"))
    step = debit(state, t("2026-03-05T00:00:00Z"), "recurring", D("100.00"), "line")
    [entry] = step.entries
    assert (entry.amount, entry.balance, entry.shortfall, entry.charged) == (D("-40.00"), 0, D("60.00"), D("100.00"))
    assert step.state.shortfall == D("60.00") and step.state.balance == 0
    assert [n.kind for n in step.notices] == ["exhausted"]
    later = debit(step.state, t("2026-03-06T00:00:00Z"), "usage", D("5.00"))
    assert later.entries[0].amount == 0 and later.entries[0].shortfall == D("5.00") and later.notices == ()
    settled = redeem(later.state, t("2026-03-07T12:00:00Z"), v("BBBB", "100.00", 30))
    assert [(e.kind, e.amount, e.balance) for e in settled.entries] == [
        ("redeemed", D("100.00"), D("100.00")), ("shortfall_settled", D("-65.00"), D("35.00"))]
    assert settled.entries[1].draws[0].lot == "BBBB" and settled.state.shortfall == 0
    assert settled.state.exhausted_armed and settled.notices == ()


def test_a_redemption_its_settlement_leaves_at_zero_sends_no_notice_and_keeps_exhausted_disarmed():
    state = CreditState("a", "UTC", D("10.00"))
    step = debit(state, t("2026-03-01T00:00:00Z"), "usage", D("30.00"))  # nothing held: all shortfall
    assert [n.kind for n in step.notices] == ["exhausted"] and step.state.shortfall == D("30.00")
    small = redeem(step.state, t("2026-03-02T00:00:00Z"), v("CCCC", "20.00", 5))
    assert [e.balance for e in small.entries] == [D("20.00"), 0] and small.notices == ()
    assert small.state.shortfall == D("10.00") and small.state.lots == () and not small.state.exhausted_armed
    exact = redeem(small.state, t("2026-03-03T00:00:00Z"), v("DDDD", "10.00", 5))
    assert exact.notices == () and exact.state.shortfall == 0 and exact.state.balance == 0
    more = redeem(exact.state, t("2026-03-04T00:00:00Z"), v("EEEE", "15.00", 5))
    assert more.state.exhausted_armed and more.notices == ()
    # 15.00 -> 5.00 crosses the threshold 10.00; -> 0.00 exhausts
    down = settle(more.state, t("2026-03-05T00:00:00Z"), usage=[Charge(D("10.00")), Charge(D("5.00"))])
    assert [(n.kind, n.seq) for n in down.notices] == [("low_balance", down.entries[0].seq),
                                                       ("exhausted", down.entries[1].seq)]


def test_low_balance_once_per_crossing_and_rearmed_at_or_above_the_threshold():
    state = redeemed(("AAAA", "100.00", 90, "2026-03-01T00:00:00Z"), threshold="50.00")
    notices = []
    for amount, at in [("40.00", "03-02"), ("10.00", "03-03"), ("10.00", "03-04"), ("5.00", "03-05")]:
        step = debit(state, t(f"2026-{at}T00:00:00Z"), "usage", D(amount))
        state, notices = step.state, notices + [n.kind for n in step.notices]
    assert notices == ["low_balance"]  # 60 -> 50 stays at it; 50 -> 40 crosses; 40 -> 35 does not again
    state = redeem(state, t("2026-03-06T00:00:00Z"), v("BBBB", "15.00", 90)).state  # 50.00: re-armed
    assert [n.kind for n in debit(state, t("2026-03-07T00:00:00Z"), "usage", D("0.01")).notices] == ["low_balance"]


def test_threshold_zero_never_sends_low_balance():
    state = redeemed(("AAAA", "10.00", 90, "2026-03-01T00:00:00Z"))
    assert [n.kind for n in debit(state, t("2026-03-02T00:00:00Z"), "usage", D("10.00")).notices] == ["exhausted"]


def test_expiry_removes_what_is_left_and_nothing_for_a_used_up_lot():
    state = redeemed(("USED", "10.00", 1, "2026-03-01T10:00:00Z"), ("LEFT", "30.00", 2, "2026-03-01T10:00:00Z"))
    state = debit(state, t("2026-03-01T20:00:00Z"), "usage", D("15.00")).state  # USED gone, LEFT 25.00
    assert expire(state, t("2026-03-02T23:59:59Z")).entries == ()
    step = expire(state, t("2026-03-05T00:00:00Z"))
    [entry] = step.entries
    assert (entry.kind, entry.at, entry.amount, entry.balance) == ("expired", t("2026-03-03T00:00:00Z"),
                                                                   D("-25.00"), 0)
    assert entry.draws[0].lot == "LEFT" and step.state.next_expiry is None


def test_order_at_one_instant_usage_then_expiry_then_events():
    midnight = t("2026-03-11T00:00:00Z")
    state = redeemed(("OLD", "10.00", 10, "2026-03-01T10:00:00Z"), ("NEW", "50.00", 30, "2026-03-01T11:00:00Z"))
    assert state.next_expiry == midnight
    step = settle(state, midnight, usage=[Charge(D("4.00"))],
                  events=[Charge(D("20.00")), v("LAST", "5.00", 1)])
    got = [(e.kind, [(d.lot, str(d.amount)) for d in e.draws]) for e in step.entries]
    assert got == [("usage", [("OLD", "4.00")]),          # the usage debit still draws from OLD
                   ("expired", [("OLD", "6.00")]),        # then OLD expires
                   ("recurring", [("NEW", "20.00")]),     # then the run's line
                   ("redeemed", [])]
    # the same steps called one by one give the same result: each operation applies the expiries before it
    by_one = debit(state, midnight, "usage", D("4.00"))
    by_one = by_one.then(debit(by_one.state, midnight, "recurring", D("20.00")))
    assert [e.kind for e in by_one.entries] == ["usage", "expired", "recurring"]


def test_zero_debits_make_no_entry_and_bad_amounts_are_refused():
    state = redeemed(("AAAA", "10.00", 5, "2026-03-01T00:00:00Z"))
    assert debit(state, t("2026-03-02T00:00:00Z"), "usage", D("0.00")).entries == ()
    for bad in (D("-1.00"), D("0.001"), D("NaN")):
        with pytest.raises(ValueError):
            debit(state, t("2026-03-02T00:00:00Z"), "usage", bad)
    with pytest.raises(ValueError):
        debit(state, t("2026-03-02T00:00:00Z"), "expired", D("1.00"))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- the estimate
def test_estimate_with_under_30_days_of_history():
    state = redeemed(("AAAA", "100.00", 60, "2026-03-01T12:00:00Z"))
    entries = []
    for day in (2, 3, 4):  # 3 days x 5.00
        step = debit(state, t(f"2026-03-0{day}T00:00:00Z"), "usage", D("5.00"))
        state, entries = step.state, entries + list(step.entries)
    at = t("2026-03-06T00:00:00Z")
    # n = 03-06 - 03-01 = 5 days; average 15.00 / 5 = 3.00; 85.00 lasts 28 days: 04-03
    assert lifetime_estimate(entries, state.lots, at, "UTC", t("2026-03-01T12:00:00Z")) == date(2026, 4, 3)
    # the first redemption's day can come from the entries or, failing that, from the lots
    redemption = redeemed(("AAAA", "100.00", 60, "2026-03-01T12:00:00Z"))
    first = redeem(CreditState("a"), t("2026-03-01T12:00:00Z"), v("AAAA", "100.00", 60)).entries
    assert lifetime_estimate(list(first) + entries, state.lots, at) == date(2026, 4, 3)
    assert lifetime_estimate(entries, state.lots, at) == date(2026, 4, 3)
    assert redemption.first_redeemed_at == t("2026-03-01T12:00:00Z")
    # the same day as the first redemption: n is at least 1
    same = debit(redemption, t("2026-03-01T18:00:00Z"), "usage", D("10.00"))
    assert lifetime_estimate(same.entries, same.state.lots, t("2026-03-01T20:00:00Z")) == date(2026, 3, 10)


def test_estimate_with_no_consumption_is_the_last_expiry_day_and_none_at_zero():
    state = redeemed(("AAAA", "10.00", 5, "2026-03-01T12:00:00Z"), ("BBBB", "10.00", 9, "2026-03-01T12:00:00Z"))
    assert lifetime_estimate((), state.lots, t("2026-03-02T00:00:00Z")) == date(2026, 3, 10)
    assert lifetime_estimate((), (), t("2026-03-02T00:00:00Z")) is None
    # lots that have expired by then hold nothing
    assert lifetime_estimate((), state.lots, t("2026-03-10T00:00:00Z")) is None


def test_estimate_counts_shortfalls_and_only_the_30_day_window():
    state = redeemed(("AAAA", "10.00", 90, "2026-01-01T00:00:00Z"))
    old = debit(state, t("2026-01-10T00:00:00Z"), "usage", D("5.00"))            # outside the window
    short = debit(old.state, t("2026-02-20T00:00:00Z"), "recurring", D("35.00"))  # draws 5.00, short 30.00
    top = redeem(short.state, t("2026-02-21T00:00:00Z"), v("BBBB", "100.00", 90))  # settles 30.00: 70.00
    entries = list(old.entries + short.entries + top.entries)
    at = t("2026-03-01T00:00:00Z")
    # consumption 35.00 over 30 days; 70.00 / (35/30) = 60 days: 04-30, inside BBBB's expiry (05-22)
    first = top.state.first_redeemed_at
    assert lifetime_estimate(entries, top.state.lots, at, "UTC", first) == date(2026, 4, 30)
    assert lifetime_estimate(entries, top.state.lots, at + timedelta(days=30), "UTC", first) == date(2026, 5, 22)
    # without the first redemption (not in these entries, not given) n counts from BBBB's day: 8
    assert lifetime_estimate(entries, top.state.lots, at) == date(2026, 3, 17)


def test_lots_loaded_in_any_order_are_drawn_first_to_expire():
    state = redeemed(("LATE", "50.00", 90, "2026-03-01T10:00:00Z"), ("SOON", "30.00", 10, "2026-03-01T11:00:00Z"))
    loaded = replace(state, lots=tuple(reversed(state.lots)))
    assert loaded.lots == state.lots and [lot.id for lot in state.lots] == ["SOON", "LATE"]
    assert debit(loaded, t("2026-03-02T00:00:00Z"), "usage", D("40.00")).entries[0].draws[0].lot == "SOON"
