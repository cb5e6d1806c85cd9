"""The kit's one calendar and one rounding (Babel's minor units), and that every service uses them (no second copy)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from services.auto_provisioning import domain as auto_provisioning
from services.invoicing import domain as invoicing
from services.rating import pricing
from shared import calendar, money


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


# ------------------------------------------------------------------ one rounding
# 1,000.5 per month: 17 days of 31 are 548.661..., a whole month 1,000.5 (a tie at 0 places)
_MONTHLY = Decimal("1000.5")


def _rated(currency: str) -> list[str]:
    catalog = pricing.Catalog.of(currency, [pricing.Product("FEAT", "recurring", _MONTHLY)])
    sub = pricing.Subscription("s1", "acme", "FEAT", datetime(2026, 3, 15, 12, tzinfo=timezone.utc))
    result = pricing.billing_run((2026, 4), pricing.Account("acme", "UTC", currency), catalog, [sub])
    return [str(line.amount) for line in result.lines]


@pytest.mark.parametrize("currency, places, lines, surcharge", [
    ("JPY", 0, ["549", "1001"], "101"),
    ("USD", 2, ["548.66", "1000.50"], "100.50"),
    ("EUR", 2, ["548.66", "1000.50"], "100.50"),
    ("GBP", 2, ["548.66", "1000.50"], "100.50"),
])
def test_one_rounding_by_the_currencys_minor_unit_in_rating_and_invoicing(currency, places, lines, surcharge):
    assert money.minor_units(currency) == places
    assert _rated(currency) == lines  # rating's pricing core
    # invoicing: the 3% card surcharge of 3,350 is 100.5 (a tie at 0 places)
    assert str(invoicing.card_surcharge(Decimal("5000"), "card", Decimal("3350"), currency)) == surcharge
    fraction = Decimal("10.5")
    if places == 0:
        with pytest.raises(invoicing.PaymentRefused, match="invalid_amount"):
            invoicing.check_payment("card", fraction, currency, Decimal("100"), currency)
    else:
        invoicing.check_payment("card", fraction, currency, Decimal("100"), currency)


def test_rounding_is_half_up_at_every_minor_unit():
    assert money.round_money(Decimal("0.5"), "JPY") == Decimal("1")
    assert money.round_money(Decimal("-0.5"), "JPY") == Decimal("-1")
    assert money.round_money(Decimal("0.0005"), "KWD") == Decimal("0.001")
    assert money.round_ratio(Decimal("1"), 8, "USD") == Decimal("0.13")  # 0.125, a true tie
    assert money.round_ratio(Decimal("1"), 2, "JPY") == Decimal("1")
    assert money.minor_units("CRD") == 2  # not in CLDR: its default


# ------------------------------------------------------------------ one envelope builder
def test_one_envelope_builder_chains_causes_and_checks_the_instant():
    from uuid import uuid4

    from contracts import build_envelope, wrap
    from contracts.provisioning import FeatureRemovedV1

    at = datetime(2026, 5, 1, tzinfo=timezone.utc)
    cause = build_envelope("x.y", 1, {}, key="k", producer="p", occurred_at=at, correlation_id=uuid4())
    event = FeatureRemovedV1(account_id="acme", subscription_id="s1", at=at)
    wrapped = wrap(event, key="acme", producer="provisioning", occurred_at=at, cause=cause)
    assert (wrapped.type, wrapped.schema_version) == ("provisioning.feature.removed", 1)
    assert wrapped.causation_id == cause.event_id and wrapped.correlation_id == cause.correlation_id
    assert wrapped.payload == event.model_dump(mode="json")
    first = build_envelope("x.y", 1, {}, key="k", producer="p", occurred_at=at, cause=wrapped.model_copy(
        update={"correlation_id": None}))
    assert first.correlation_id == wrapped.event_id  # a cause without a correlation starts one
    with pytest.raises(ValueError):
        build_envelope("x.y", 1, {}, key="k", producer="p", occurred_at=datetime(2026, 5, 1))
    with pytest.raises(ValueError):
        build_envelope("x.y", 1, {}, key="k", producer="p", occurred_at=datetime(2200, 1, 1, tzinfo=timezone.utc))


# ------------------------------------------------------------------ one refusal base
def test_every_refusal_derives_from_the_kits_base_with_its_status():
    from services.invoicing.payments import Conflict, NotFound
    from services.provisioning.service import Rejected
    from shared import dead_letters
    from shared.apikeys import KeyRefused
    from shared.refusal import Refused

    cases = [(NotFound("unknown_invoice"), 404), (Conflict("payment_id_reused"), 409),
             (invoicing.PaymentRefused("invalid_amount"), 422), (KeyRefused("unknown_key", "no such key"), 401),
             (dead_letters.Refused("already_redriven"), 409),
             (dead_letters.Refused("unknown_dead_letter", "", 404), 404),
             (Rejected("unknown_account"), 404), (Rejected("duplicate_account"), 409), (Rejected("unknown_brand"), 422)]
    for refusal, status in cases:
        assert isinstance(refusal, Refused) and refusal.status == status, refusal


async def test_one_http_mapping_answers_every_refusal_with_the_error_body():
    import httpx
    from fastapi import FastAPI

    from services.provisioning.service import Rejected
    from shared import http

    app = FastAPI()
    http.install(app)

    @app.get("/refuse")
    async def refuse():
        raise Rejected("duplicate_account", "account acme exists")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        answer = await client.get("/refuse")
    assert answer.status_code == 409
    assert answer.json() == {"reason": "duplicate_account", "detail": "account acme exists"}
