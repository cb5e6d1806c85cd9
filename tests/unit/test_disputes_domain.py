"""Dispute rules, pure (section 9): working-day deadlines (weekends, holidays, DST in non-UTC
zones, Saturday receipt, wall times a day lacks or has twice; a property over random instants,
zones and holidays), states, refusals."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from services.disputes import domain
from services.disputes.domain import DisputeRefused, InvoiceFacts, IssuerCalendar

D = Decimal
UTC = timezone.utc
LONDON, NEW_YORK, CAIRO = ZoneInfo("Europe/London"), ZoneInfo("America/New_York"), ZoneInfo("Africa/Cairo")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cal(zone: str = "UTC", *holidays: str) -> IssuerCalendar:
    return IssuerCalendar.of(zone, [date.fromisoformat(h) for h in holidays])


@pytest.mark.parametrize("received, calendar, due", [
    # the rule's example: Friday 15:00 -> Wednesday 15:00
    (utc(2026, 3, 6, 15), cal(), utc(2026, 3, 11, 15)),
    # Monday to Thursday, within one week
    (utc(2026, 3, 9, 9, 30), cal(), utc(2026, 3, 12, 9, 30)),
    # Saturday 10:00 counts as Monday 00:00: due Thursday 00:00
    (utc(2026, 3, 7, 10), cal(), utc(2026, 3, 12)),
    (utc(2026, 3, 8, 23, 59, 59), cal(), utc(2026, 3, 12)),  # Sunday, a second before Monday
    (utc(2026, 3, 9), cal(), utc(2026, 3, 12)),              # Monday 00:00 itself
    (utc(2026, 3, 6, 23, 59, 59), cal(), utc(2026, 3, 11, 23, 59, 59)),  # Friday's last second
    # section 9's worked example: holiday Friday 05-01 -> due Monday 05-04 10:00
    (utc(2026, 4, 28, 10), cal("UTC", "2026-05-01"), utc(2026, 5, 4, 10)),
    # received on a weekday holiday: counts from the next working day's 00:00
    (utc(2026, 5, 1, 14), cal("UTC", "2026-05-01"), utc(2026, 5, 7)),
    # a holiday after a weekend: Saturday -> Tuesday 00:00 -> due Friday 00:00
    (utc(2026, 3, 7, 10), cal("UTC", "2026-03-09"), utc(2026, 3, 13)),
    # consecutive holidays (Christmas, Boxing Day on a Friday) and a weekend
    (utc(2026, 12, 24, 12), cal("UTC", "2026-12-25", "2026-12-28"), utc(2026, 12, 31, 12)),
    # a holiday of another year does not count
    (utc(2026, 3, 6, 15), cal("UTC", "2025-03-09"), utc(2026, 3, 11, 15)),
])
def test_due_at(received, calendar, due):
    assert domain.due_at(received, calendar) == due


@pytest.mark.parametrize("received, zone, due_local", [
    # London, to summer time (Sunday 2026-03-29): the wall time stays, 3 working days are 71 hours
    (datetime(2026, 3, 27, 15, tzinfo=LONDON), "Europe/London", datetime(2026, 4, 1, 15, tzinfo=LONDON)),
    # ... and back (Sunday 2026-10-25): 73 hours
    (datetime(2026, 10, 23, 15, tzinfo=LONDON), "Europe/London", datetime(2026, 10, 28, 15, tzinfo=LONDON)),
    # Saturday 10:00 before the change counts as Monday 00:00 BST: due Thursday 00:00 BST
    (datetime(2026, 3, 28, 10, tzinfo=LONDON), "Europe/London", datetime(2026, 4, 2, tzinfo=LONDON)),
    # New York, to daylight time (Sunday 2026-03-08) and back (Sunday 2026-11-01)
    (datetime(2026, 3, 6, 15, tzinfo=NEW_YORK), "America/New_York", datetime(2026, 3, 11, 15, tzinfo=NEW_YORK)),
    (datetime(2026, 10, 30, 15, tzinfo=NEW_YORK), "America/New_York", datetime(2026, 11, 4, 15, tzinfo=NEW_YORK)),
    (datetime(2026, 3, 7, 10, tzinfo=NEW_YORK), "America/New_York", datetime(2026, 3, 12, tzinfo=NEW_YORK)),
    (datetime(2026, 10, 31, 10, tzinfo=NEW_YORK), "America/New_York", datetime(2026, 11, 5, tzinfo=NEW_YORK)),
])
def test_due_at_keeps_the_wall_time_across_dst(received, zone, due_local):
    due = domain.due_at(received, cal(zone))
    assert due == due_local
    assert due.tzinfo == UTC
    assert due.astimezone(ZoneInfo(zone)).time() == due_local.time()


def test_dst_changes_make_three_working_days_71_or_73_hours():
    to_summer = domain.due_at(datetime(2026, 3, 27, 15, tzinfo=LONDON), cal("Europe/London"))
    to_winter = domain.due_at(datetime(2026, 10, 23, 15, tzinfo=LONDON), cal("Europe/London"))
    assert to_summer == utc(2026, 4, 1, 14)   # 15:00 BST
    assert to_winter == utc(2026, 10, 28, 15)  # 15:00 GMT
    ny = domain.due_at(utc(2026, 3, 6, 20), cal("America/New_York"))  # Friday 15:00 EST
    assert ny == utc(2026, 3, 11, 19)  # Wednesday 15:00 EDT


def test_the_issuer_zone_decides_the_day_not_the_received_offset():
    # Friday 23:30 UTC is already Saturday 00:30 in Cairo (UTC+2): counts from Monday 00:00 there
    received = utc(2026, 3, 6, 23, 30)
    assert domain.due_at(received, cal()) == utc(2026, 3, 11, 23, 30)
    assert domain.due_at(received, cal("Africa/Cairo")) == datetime(2026, 3, 12, tzinfo=CAIRO)
    # and a holiday is a date of the issuer's zone
    assert domain.due_at(utc(2026, 5, 1, 23, 30), cal("Africa/Cairo", "2026-05-04")) \
        == datetime(2026, 5, 8, tzinfo=CAIRO)


def test_a_wall_time_skipped_on_the_due_day_is_read_with_the_offset_before_the_jump():
    # Cairo jumps from Friday 2026-04-24 00:00 to 01:00 (a working day): 00:30 does not exist
    received = datetime(2026, 4, 21, 0, 30, tzinfo=CAIRO)  # Tuesday 00:30 EET (+02)
    due = domain.due_at(received, cal("Africa/Cairo"))
    assert due == utc(2026, 4, 23, 22, 30)  # 00:30 at +02 ...
    assert due.astimezone(CAIRO).replace(tzinfo=None) == datetime(2026, 4, 24, 1, 30)  # ... shows 01:30


def test_a_wall_time_twice_on_the_due_day_is_its_first_occurrence():
    # Cairo's Thursday 2026-10-29 has 23:00-24:00 twice (+03 then +02)
    received = datetime(2026, 10, 26, 23, 30, tzinfo=CAIRO)  # Monday 23:30 EEST
    due = domain.due_at(received, cal("Africa/Cairo"))
    assert due == utc(2026, 10, 29, 20, 30)  # the first 23:30 (+03), not 21:30Z (+02)


def test_due_at_refuses_naive_instants():
    with pytest.raises(ValueError):
        domain.due_at(datetime(2026, 3, 6, 15), cal())


def test_unknown_zone_is_refused():
    with pytest.raises(Exception):
        cal("Mars/Olympus")


# ------------------------------------------------------------------ states
INVOICE = InvoiceFacts("ACME-000001", "acme", "platform", "USD", D("1000.00"), line_count=2)
RECEIVED = utc(2026, 4, 28, 10)
DUE = utc(2026, 5, 4, 10)


def opened(**kw) -> domain.Dispute:
    args = dict(dispute_id="d1", invoice=INVOICE, amount=D("400.00"), reason="wrong rate", received=RECEIVED,
                calendar=cal("UTC", "2026-05-01"))
    args.update(kw)
    return domain.open_dispute(**args)


def test_open_dispute_is_due_in_three_working_days():
    d = opened()
    assert (d.due_at, domain.status_at(d, RECEIVED)) == (DUE, "open")
    assert d.is_open and d.credited is None and not d.late


def test_overdue_strictly_after_the_due_instant():
    d = opened()
    assert domain.status_at(d, DUE) == "open"
    assert domain.status_at(d, DUE + timedelta(microseconds=1)) == "overdue"
    assert not domain.is_overdue(DUE, DUE)
    assert domain.is_overdue(DUE, DUE + timedelta(seconds=1))
    assert not domain.is_overdue(DUE, DUE + timedelta(days=1), resolved_at=DUE)


def test_rejected_after_the_due_instant_is_late():
    # section 9's example: rejected 05-06 09:00, due 05-04 10:00
    d = domain.resolve(opened(), "rejected", utc(2026, 5, 6, 9))
    assert (d.outcome, d.credited, d.late, d.reinstated) == ("rejected", D("0.00"), True, D("400.00"))
    assert domain.status_at(d, utc(2026, 5, 6, 9)) == "rejected"


def test_resolved_at_the_due_instant_is_not_late():
    assert not domain.resolve(opened(), "upheld", DUE).late
    assert domain.resolve(opened(), "upheld", DUE + timedelta(microseconds=1)).late


def test_upheld_credits_the_disputed_amount_by_default():
    d = domain.resolve(opened(), "upheld", utc(2026, 4, 29))
    assert (d.outcome, d.credited, d.reinstated, d.late) == ("upheld", D("400.00"), D("0.00"), False)


def test_partial_credit_reinstates_the_rest():
    d = domain.resolve(opened(), "upheld", utc(2026, 4, 29), D("150.00"))
    assert (d.credited, d.reinstated) == (D("150.00"), D("250.00"))


def test_held_back_counts_open_disputes_only():
    a, b = opened(), opened(dispute_id="d2", amount=D("100.00"))
    c = domain.resolve(opened(dispute_id="d3", amount=D("50.00")), "rejected", utc(2026, 4, 29))
    assert domain.held_back([a, b, c], utc(2026, 4, 30)) == D("500.00")
    assert domain.held_back([a, b, c], utc(2026, 4, 28, 12)) == D("550.00")  # d3 still open then
    assert domain.held_back([a, b], utc(2026, 4, 30), exclude="d1") == D("100.00")


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("amount", [D("0"), D("0.00"), D("-1.00"), D("10.001"), D("NaN"), D("Infinity")])
def test_invalid_amount(amount):
    with pytest.raises(DisputeRefused) as refused:
        opened(amount=amount)
    assert refused.value.reason == "invalid_amount"


def test_amount_exceeds_disputable_counts_the_other_open_disputes():
    opened(amount=D("1000.00"))  # all of the due amount may be disputed
    opened(amount=D("600.00"), other_open=[D("400.00")])
    with pytest.raises(DisputeRefused) as refused:
        opened(amount=D("600.01"), other_open=[D("400.00")])
    assert refused.value.reason == "amount_exceeds_disputable"
    with pytest.raises(DisputeRefused):
        opened(amount=D("1000.01"))
    # due is total minus credited: an invoice credited 300.00 leaves 700.00 to dispute
    credited = InvoiceFacts("ACME-000001", "acme", "platform", "USD", D("700.00"))
    with pytest.raises(DisputeRefused):
        opened(invoice=credited, amount=D("700.01"))


def test_invalid_amount_comes_before_exceeding():
    with pytest.raises(DisputeRefused) as refused:
        opened(amount=D("5000.001"))
    assert refused.value.reason == "invalid_amount"


@pytest.mark.parametrize("lines", [[0], [3], [1, 1], [-1]])
def test_disputed_lines_must_be_lines_of_the_invoice(lines):
    with pytest.raises(DisputeRefused) as refused:
        opened(lines=lines)
    assert refused.value.reason == "invalid_lines"
    assert opened(lines=[2, 1]).lines == (1, 2)


def test_already_resolved():
    d = domain.resolve(opened(), "upheld", utc(2026, 4, 29))
    for outcome in ("upheld", "rejected"):
        with pytest.raises(DisputeRefused) as refused:
            domain.resolve(d, outcome, utc(2026, 4, 30))
        assert refused.value.reason == "already_resolved"


@pytest.mark.parametrize("credit, reason", [
    (D("400.01"), "credit_exceeds_disputed"),
    (D("0.00"), "invalid_amount"),
    (D("-5.00"), "invalid_amount"),
    (D("1.005"), "invalid_amount"),
])
def test_credit_refusals(credit, reason):
    with pytest.raises(DisputeRefused) as refused:
        domain.resolve(opened(), "upheld", utc(2026, 4, 29), credit)
    assert refused.value.reason == reason


def test_a_rejection_credits_nothing_and_outcomes_are_two():
    with pytest.raises(DisputeRefused) as refused:
        domain.resolve(opened(), "rejected", utc(2026, 4, 29), D("1.00"))
    assert refused.value.reason == "invalid_amount"
    with pytest.raises(DisputeRefused) as refused:
        domain.resolve(opened(), "withdrawn", utc(2026, 4, 29))
    assert refused.value.reason == "invalid_outcome"


def test_duplicate_dispute_and_same_request():
    d = opened(lines=[1])
    domain.check_unused_id("d2", None)
    with pytest.raises(DisputeRefused) as refused:
        domain.check_unused_id("d1", d)
    assert refused.value.reason == "duplicate_dispute"
    assert domain.same_request(d, "ACME-000001", D("400.00"), "wrong rate", [1])
    assert not domain.same_request(d, "ACME-000001", D("400.01"), "wrong rate", [1])
    assert not domain.same_request(d, "ACME-000002", D("400.00"), "wrong rate", [1])


def test_reasons_cover_section_9():
    assert set(domain.REASONS) == {"unknown_invoice", "unknown_dispute", "already_resolved", "invalid_amount",
                                   "credit_exceeds_disputed", "duplicate_dispute", "amount_exceeds_disputable"}


def test_a_resolution_before_the_receipt_is_refused():
    with pytest.raises(DisputeRefused) as refused:
        domain.resolve(opened(), "upheld", RECEIVED - timedelta(seconds=1))
    assert refused.value.reason == "resolved_before_received"
    assert domain.resolve(opened(), "upheld", RECEIVED).resolved_at == RECEIVED


# ------------------------------------------------------------------ properties
ZONES = ["UTC", "Europe/London", "America/New_York", "Africa/Cairo", "Australia/Lord_Howe", "Asia/Kolkata",
         "America/Santiago", "Pacific/Chatham"]


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
       st.sampled_from(ZONES), st.sets(st.dates(min_value=date(2020, 1, 1), max_value=date(2031, 1, 31)),
                                       max_size=40))
def test_due_at_properties(received, zone, holidays):
    """Due is the 3rd working day strictly after the day receipt counts from (its own day, or the
    next working day's 00:00), at the received wall time read with fold=0; always later than
    receipt, on a working day, and never earlier on the wall clock than the wall time kept."""
    calendar = cal(zone, *(h.isoformat() for h in holidays))
    tz = ZoneInfo(zone)
    due = domain.due_at(received, calendar)
    local_received = received.astimezone(tz)
    if calendar.is_working_day(local_received.date()):
        day, wall = local_received.date(), local_received.time()
    else:
        day, wall = calendar.next_working_day(local_received.date()), datetime.min.time()
    for _ in range(3):
        day = calendar.next_working_day(day)
    # as instants: an aware datetime in a gap (Cairo's Friday 00:00 jump) never compares equal
    # across zones (PEP 495), though fold=0 reads it at the offset from before the jump
    assert due.timestamp() == datetime.combine(day, wall, tzinfo=tz).timestamp()  # fold=0
    assert due > received
    local_due = due.astimezone(tz)
    assert local_due.date() == day and calendar.is_working_day(local_due.date())
    assert local_due.time() >= wall  # kept, or later by a DST jump on that day
