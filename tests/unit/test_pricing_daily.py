"""Daily prepaid usage pricing: records before a midnight, one debit per product and month, tiers go on."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from services.rating.pricing import (
    Account, Catalog, PriceBook, Product, Tier, UsageRecord, billing_run, daily_usage,
)

UTC = timezone.utc
START = datetime(2026, 3, 1, tzinfo=UTC)
CAT = Catalog.of("USD", [
    Product("OUT", "usage", D("0.05")),
    Product("TIER", "usage", D("0.05"), tiers=(Tier(D(1000), D("0.05")), Tier(None, D("0.03"))),
            tier_mode="graduated"),
    Product("VOL", "usage", D("0.010"), tiers=(Tier(D(100), D("0.010")), Tier(None, D("0.005"))),
            tier_mode="volume"),
    Product("NUM", "recurring", D("20.00")),
])


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rec(rid: str, part: str, qty, used: str, arrived: str | None = None) -> UsageRecord:
    return UsageRecord(rid, part, D(qty), t(used), t(arrived or used))


def test_records_before_the_midnight_one_debit_per_product_and_month_in_order():
    records = [
        rec("a", "OUT", 100, "2026-03-10T15:00:00Z"),
        rec("b", "OUT", 100, "2026-03-10T16:00:00Z"),
        rec("b", "OUT", 100, "2026-03-10T16:00:00Z"),                       # a repeated id counts once
        rec("c", "TIER", 10, "2026-02-27T10:00:00Z", "2026-03-10T09:00:00Z"),  # late: February's month
        rec("d", "OUT", 7, "2026-03-10T20:00:00Z", "2026-03-11T00:00:00Z"),  # at the midnight: the next one
    ]
    day = daily_usage(t("2026-03-11T00:00:00Z"), "UTC", CAT, records)
    assert [(d.part_number, d.month, d.units, str(d.amount)) for d in day.debits] == [
        ("TIER", (2026, 2), D(10), "0.50"), ("OUT", (2026, 3), D(200), "10.00")]
    assert day.record_ids == {"a", "b", "c"} and day.total == D("10.50")
    assert day.units_added == {("TIER", date(2026, 2, 1)): D(10), ("OUT", date(2026, 3, 1)): D(200)}
    assert day.debits[1].unit_price == D("0.05") and day.debits[0].unit_price is None
    # the next midnight: what was debited is not again, the record at the midnight is
    nxt = daily_usage(t("2026-03-12T00:00:00Z"), "UTC", CAT, records, day.units, day.record_ids)
    assert [(d.part_number, str(d.amount)) for d in nxt.debits] == [("OUT", "0.35")]
    assert nxt.units == {("OUT", date(2026, 3, 1)): D(207)}


def test_graduated_tiers_continue_across_daily_debits_within_the_month_of_use():
    units: dict = {}
    ids: frozenset = frozenset()
    amounts = []
    records = [rec(f"r{i}", "TIER", 400, f"2026-03-{i + 1:02d}T12:00:00Z") for i in range(4)]
    records.append(rec("apr", "TIER", 400, "2026-04-01T12:00:00Z"))
    for midnight in ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-04-02"]:
        day = daily_usage(t(f"{midnight}T00:00:00Z"), "UTC", CAT, records, units, ids)
        units, ids = {**units, **day.units}, ids | day.record_ids
        amounts.append(str(day.total))
    # 400 + 400 at 0.05; then 200 at 0.05 and 200 at 0.03; then 400 at 0.03; April starts again
    assert amounts == ["20.00", "20.00", "16.00", "12.00", "20.00"]
    # the sum of the daily debits is what one monthly run would have charged for March
    run = billing_run("2026-04", Account("a"), CAT, [], usage=records[:4])
    assert sum(D(a) for a in amounts[:4]) == run.total


def test_volume_tiers_use_the_month_total_and_never_reprice_units_already_debited():
    records = [rec("a", "VOL", 80, "2026-03-01T12:00:00Z"), rec("b", "VOL", 80, "2026-03-02T12:00:00Z")]
    first = daily_usage(t("2026-03-02T00:00:00Z"), "UTC", CAT, records)
    second = daily_usage(t("2026-03-03T00:00:00Z"), "UTC", CAT, records, first.units, first.record_ids)
    assert (str(first.total), str(second.total)) == ("0.80", "0.40")  # 80 x 0.010; then 80 x 0.005 (total 160)


def test_the_month_of_use_and_the_midnight_are_the_account_zone_s():
    # 2026-03-31 23:30 in New York is 04-01 03:30 UTC: March usage, debited at New York's 04-01 00:00
    records = [rec("ny", "OUT", 10, "2026-04-01T03:30:00Z")]
    day = daily_usage(t("2026-04-01T04:00:00Z"), "America/New_York", CAT, records)
    assert [(d.month, str(d.amount)) for d in day.debits] == [((2026, 3), "0.50")]
    assert daily_usage(t("2026-03-31T04:00:00Z"), "America/New_York", CAT, records).debits == ()
    # in UTC the same record is April's
    assert daily_usage(t("2026-04-02T00:00:00Z"), "UTC", CAT, records).debits[0].month == (2026, 4)


def test_each_debit_is_rounded_once_and_a_price_book_applies():
    records = [rec("a", "OUT", 3, "2026-03-01T12:00:00Z")]
    book = PriceBook("b", {"OUT": D("0.125")})
    day = daily_usage(t("2026-03-02T00:00:00Z"), "UTC", CAT, records, price_book=book)
    assert str(day.total) == "0.38"  # 0.375 half-up


def test_a_prepaid_style_run_without_usage_still_bills_recurring_lines():
    from services.rating.pricing import Subscription
    sub = Subscription("n1", "a", "NUM", t("2026-03-03T12:00:00Z"), 5)
    run = billing_run("2026-04", Account("a"), CAT, [sub], usage=())
    assert [str(line.amount) for line in run.lines] == ["93.55", "100.00"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["OUT", "TIER"]), st.integers(1, 900), st.integers(0, 27 * 24)),
                min_size=1, max_size=25),
       st.lists(st.integers(1, 30), min_size=1, max_size=6, unique=True))
def test_daily_debits_add_up_to_the_month_s_price_but_for_rounding(uses, days):
    """However a month's usage is split over midnights, the units are debited once and, per unit
    or graduated, the daily amounts differ from one monthly price only by each debit's rounding
    (volume tiers never re-price units already debited, so they may differ by more: by rule)."""
    records = [UsageRecord(f"r{i}", part, D(qty), START + timedelta(hours=h), START + timedelta(hours=h))
               for i, (part, qty, h) in enumerate(uses)]
    units: dict = {}
    ids: frozenset = frozenset()
    debits = []
    for day in sorted(days) + [31]:  # the last midnight, 04-01, takes whatever is left of March
        day_ = daily_usage(START + timedelta(days=day), "UTC", CAT, records, units, ids)
        units, ids = {**units, **day_.units}, ids | day_.record_ids
        debits += day_.debits
    assert ids == {r.id for r in records}
    month = billing_run("2026-04", Account("a"), CAT, [], usage=records)
    assert sum(d.units for d in debits) == sum(line.quantity for line in month.lines)
    for part in {p for p, _, _ in uses}:
        daily = sum(d.amount for d in debits if d.part_number == part)
        [line] = [line for line in month.lines if line.part_number == part]
        count = sum(1 for d in debits if d.part_number == part)
        assert abs(daily - line.amount) <= D("0.005") * (count + 1)
