"""The usage and dashboard pages' pure helpers: the picker's choice, the chart's bars, open invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.portal.usage_view import Choice, chart, choose, month_options, open_invoices, units

TODAY = date(2026, 3, 14)


@pytest.mark.parametrize(("fields", "expected"), [
    ((None, None, None, None), Choice("month", "2026-03")),
    (("month", "", "", ""), Choice("month", "2026-03")),  # the picker sends every field, some empty
    (("cycle", "2026-02", "", ""), Choice("cycle", "2026-02")),
    (("range", "2026-02", "2026-03-01", "2026-03-08"), Choice("range", start=date(2026, 3, 1), end=date(2026, 3, 8))),
    (("bogus", "2026-01", None, None), Choice("month", "2026-01")),
])
def test_the_pickers_choice(fields, expected):
    assert choose(*fields, TODAY) == expected


@pytest.mark.parametrize("fields", [("month", "2026-13", None, None), ("cycle", "March", None, None),
                                    ("range", None, "2026-02-30", "2026-03-01"), ("range", None, "2026-3-1", None),
                                    ("month", "x" * 40, None, None)])
def test_a_field_that_is_not_a_month_or_date_is_named(fields):
    with pytest.raises(ValueError, match="Month|From|To"):
        choose(*fields, TODAY)


def test_params_are_rating_s_query():
    assert Choice("cycle", "2026-02").params() == {"cycle": "2026-02"}
    assert Choice("range", start=date(2026, 3, 1), end=None).params() == {"from": "2026-03-01", "to": ""}


def test_month_options_count_back_from_this_month():
    assert month_options(date(2026, 1, 31), 3) == ["2026-01", "2025-12", "2025-11"]


def _day(d: str, inbound="0", outbound="0", unspecified="0") -> dict:
    return {"date": d, "inbound": inbound, "outbound": outbound, "unspecified": unspecified, "records": 1}


def test_chart_stacks_inbound_under_outbound_on_a_round_scale():
    c = chart([_day("2026-03-01", "30", "40", "5"), _day("2026-03-02")])
    assert c["top"] == 100  # 75 rounded up to 1, 2 or 5 times a power of ten
    first, empty = c["bars"]
    assert [p["kind"] for p in first["parts"]] == ["inbound", "outbound", "unspecified"]
    inbound, outbound, unspecified = first["parts"]
    assert (inbound["y"], inbound["height"]) == ("140.00", "60.00")  # bottom of 200 units
    assert (outbound["y"], outbound["height"]) == ("60.00", "80.00")
    assert Decimal(unspecified["y"]) + Decimal(unspecified["height"]) == Decimal(outbound["y"])
    assert empty["parts"] == [] and c["total"] == 75
    assert [t["value"] for t in c["ticks"]] == [0, 50, 100]


@pytest.mark.parametrize(("highest", "top"), [("0.03", "0.05"), ("1", "1"), ("3", "5"), ("11", "20"), ("2500", "5000")])
def test_chart_scale(highest, top):
    assert chart([_day("2026-03-01", highest)])["top"] == Decimal(top)


def test_chart_of_a_year_fits_the_width_and_of_nothing_is_flat():
    year = chart([_day(f"d{i}", "1") for i in range(366)])
    assert Decimal(year["bars"][-1]["x"]) + Decimal(year["bars"][-1]["width"]) <= year["width"]
    assert chart([_day("2026-03-01")])["top"] == 1


def test_open_invoices_and_amounts_due_per_currency():
    invoices = [{"currency": "EUR", "outstanding": "10.50", "status": "issued"},
                {"currency": "EUR", "outstanding": "4.50", "status": "overdue"},
                {"currency": "USD", "outstanding": "7.00", "status": "issued"},
                {"currency": "USD", "outstanding": "0.00", "status": "paid"}]
    assert open_invoices(invoices) == {"count": 3, "due": [("EUR", Decimal("15.00")), ("USD", Decimal("7.00"))],
                                       "overdue": 1}
    assert open_invoices([]) == {"count": 0, "due": [], "overdue": 0}


def test_units_read_as_people_write_them():
    assert [units(v) for v in ("1234.500", "0", "1E+3", "0.000001")] == ["1,234.5", "0", "1,000", "0.000001"]
