"""The kit's one calendar and one rounding, and that every service uses them (no second copy)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.auto_provisioning import domain as auto_provisioning
from services.invoicing import domain as invoicing
from services.rating import pricing
from shared import calendar


def test_services_use_the_kits_calendar():
    assert invoicing.parse_month is calendar.parse_month
    assert invoicing.metering_point is calendar.metering_point is pricing.metering_point
    assert invoicing.local_date is calendar.local_date
    assert auto_provisioning.metering_point is calendar.metering_point_at_or_before


@pytest.mark.parametrize("instant, zone, point", [
    ("2026-03-01T04:59:59+00:00", "America/New_York", "2026-02-01T00:00:00-05:00"),
    ("2026-03-01T05:00:00+00:00", "America/New_York", "2026-03-01T00:00:00-05:00"),
    ("2026-05-31T22:30:00+00:00", "Europe/Berlin", "2026-06-01T00:00:00+02:00"),
    ("2026-01-01T00:00:00+00:00", "UTC", "2026-01-01T00:00:00+00:00"),
])
def test_latest_metering_point_is_the_month_of_the_local_day(instant, zone, point):
    found = calendar.metering_point_at_or_before(datetime.fromisoformat(instant), zone)
    assert found == datetime.fromisoformat(point)
    assert found == calendar.metering_point(calendar.month_of(found.date()), zone)


@pytest.mark.parametrize("text, month", [("2026-05", (2026, 5)), ("1999-12", (1999, 12))])
def test_month_text_round_trips(text, month):
    assert calendar.parse_month(text) == month and calendar.month_text(month) == text


def test_local_midnight_and_local_date_agree():
    day = date(2026, 3, 29)  # Europe/Berlin moves to summer time that night at 02:00
    assert calendar.local_date(calendar.local_midnight(day, "Europe/Berlin"), "Europe/Berlin") == day
