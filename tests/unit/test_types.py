"""The checked value types of contracts/types.py: tables of good and hostile values."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from cli import main as cli_main
from contracts import types as t
from contracts.provisioning import AccountOpenedV1, OpenAccountV1, ProvisionFeatureV1
from contracts.rating import AccountChargesRatedV1, RequestBillingRunV1
from contracts.usage import UsageRecordedV1

HUGE = "x" * 900_000
CASES = [
    (t.Id, ["a", "acme-1", "r1a2b3c4-partner:a@b.c", "A" * 128, "0"],
     ["", "a/b", "a\u0000", "-a", ".a", "a b", "A" * 129, HUGE, "é", "a\nb", 7]),
    (t.Name, ["", "Acme GmbH", "Ünïcödé ✓ 日本", "n" * 200],
     ["a\u0000", "a\x1b[31m", "a\u0085", "n" * 201, HUGE]),
    (t.TimeZone, ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"],
     ["Mars/Olympus", "", "\u0000", "../../etc/passwd", "europe/berlin", "Europe/Berlin\u0000", HUGE, "UTC+1"]),
    (t.Currency, ["USD", "EUR", "GBP", "JPY", "CHF"],
     ["notacurrency", "usd", "", "XXX", "XTS", "XAU", "ABC", "US", "USD\u0000"]),
    (t.Instant, ["2026-05-01T00:00:00Z", "2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999999+00:00",
                 "2026-05-01T02:00:00+02:00"],
     ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T00:00:00Z",
      "1900-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2026-05-01T00:00:00", "", "now"]),
    (t.Month, ["2026-05", "2000-01", "2099-12"], ["0000-01", "1999-12", "2100-01", "2026-13", "2026-5", "9999-12", ""]),
    (t.Quantity, [1, 5, 1_000_000], [0, -5, 1_000_001, 2**31, 10**40, "1e40", 1.5]),
    (t.Count, [0, 7, 100_000_000], [-1, 2**31, 10**12]),
    (t.UsageQuantity, ["0.5", "1", "1000000000", "0.000001", 3],
     ["0", "-1", "1e40", "1e999999", "NaN", "Infinity", "0.0000001", 1e40, float("inf")]),
    (t.Amount, ["0.01", "3000.00", "1000000000.00"], ["0", "-10", "1e999999", "10.001", "NaN", "1000000000.01"]),
    (t.UnitPrice, ["0", "0.04", "0.000125", "4000.00"], ["-1", "1e40", "0.0000001", "NaN"]),
    (t.PaymentTerms, [0, 14, 30, 365], [-1, 366, 100_000_000, 10**12]),
    (t.UsageDirection, ["inbound", "outbound"], ["", "Inbound", "in", "both", None, HUGE]),
    (t.UsageGroup, ["Sales", "Ünïcödé ✓ 日本", "g" * 100], ["", "a\u0000", "a\x1b[31m", "g" * 101, HUGE]),
    (t.PhoneNumber, ["+493012345678", "0049301234", "12", "+" + "9" * 15],
     ["", "+", "1", "+49 30 123", "+49-30", "9" * 16, "++49", "tel:+4930", HUGE]),
]


@pytest.mark.parametrize(("kind", "value", "ok"), [
    (kind, value, ok) for kind, good, bad in CASES for ok, values in ((True, good), (False, bad)) for value in values
], ids=lambda v: repr(v)[:30] if not isinstance(v, bool) else str(v))
def test_each_type_takes_the_good_and_refuses_the_hostile(kind, value, ok):
    adapter = TypeAdapter(kind)
    if ok:
        adapter.validate_python(value)
    else:
        with pytest.raises(ValidationError) as refused:
            adapter.validate_python(value)
        assert len(str(refused.value)) < 2000  # a 900 KB value is not echoed in full


def test_bounds_are_far_below_the_database_and_calendar_limits():
    assert t.MAX_QUANTITY * 1000 < 2**31 and t.MAX_COUNT * 20 < 2**31
    assert t.INSTANT_MIN.year == 2000 and t.INSTANT_MAX.year == 2100


@pytest.mark.parametrize("text", ["1999-12-31T23:59:59Z", "2000-01-01T00:00:00+00:01", "2100-01-01T00:00:00Z",
                                  "2099-12-31T23:30:00-01:00", "2000-01-01T00:30:00+01:00"])
def test_instants_at_the_window_edges_are_refused(text):
    with pytest.raises(ValidationError):
        TypeAdapter(t.Instant).validate_python(text)


@pytest.mark.parametrize("text", ["2000-01-01T00:00:00Z", "2000-01-01T00:00:00-01:00", "2099-12-31T23:59:59Z",
                                  "2099-12-31T23:00:00+05:00", "2002-01-01T00:00:00+23:59", "2098-12-31T23:59:59-23:59"])
def test_instants_inside_the_window_are_accepted(text):
    assert TypeAdapter(t.Instant).validate_python(text)


@pytest.mark.parametrize(("model", "payload"), [
    (OpenAccountV1, {"account_id": "a", "currency": "GBP\u0000"}),
    (OpenAccountV1, {"account_id": "a", "payment_terms_days": 10**12}),
    (AccountOpenedV1, {"account_id": "a", "time_zone": "Mars/Olympus", "at": "2026-01-01T00:00:00Z"}),
    (AccountOpenedV1, {"account_id": "a", "currency": "notacurrency", "at": "2026-01-01T00:00:00Z"}),
    (ProvisionFeatureV1, {"account_id": "a", "subscription_id": "s", "part_number": "p", "quantity": -5}),
    (ProvisionFeatureV1, {"account_id": "a", "subscription_id": "s", "part_number": "p",
                          "at": "0001-01-01T00:00:00Z"}),
    (UsageRecordedV1, {"record_id": "r", "account_id": "a", "part_number": "p", "quantity": "1e40",
                       "used_at": "2026-01-01T00:00:00Z"}),
    (UsageRecordedV1, {"record_id": "r", "account_id": HUGE, "part_number": "p", "quantity": "1",
                       "used_at": "2026-01-01T00:00:00Z"}),
    (RequestBillingRunV1, {"run_id": "r", "month": "0000-01", "requested_at": "2026-01-01T00:00:00Z"}),
    (AccountChargesRatedV1, {"run_id": "r", "month": "2026-01", "account_id": "a", "currency": "USD",
                             "settlement": "invoice", "payment_terms_days": 100_000_000, "lines": [], "total": "0"}),
])
def test_contracts_refuse_what_issue_9_saw_accepted(model, payload):
    with pytest.raises(ValidationError):
        model.model_validate(payload)


def _scenario(tmp_path: Path, **changes) -> Path:
    data = {"name": "hostile", "catalog": {"currency": "USD", "products": [
        {"part_number": "XDM00001", "kind": "recurring", "unit_price": "12.00"}]},
        "accounts": [{"id": "a"}],
        "events": [{"type": "feature_provisioned", "at": "2026-01-10T00:00:00Z", "account": "a",
                    "subscription": "s1", "part_number": "XDM00001", "quantity": 1}]}
    for key, value in changes.items():
        if key == "event":
            data["events"][0].update(value)
        elif key == "account":
            data["accounts"][0].update(value)
        else:
            data[key] = value
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("change", "where"), [
    ({"event": {"quantity": -5}}, "events[0].quantity"),
    ({"event": {"quantity": 2**31}}, "events[0].quantity"),
    ({"event": {"at": "0001-01-01T00:00:00Z"}}, "events[0].at"),
    ({"event": {"account": "a/b"}}, "events[0].account"),
    ({"event": {"subscription": "s\u0000"}}, "events[0].subscription"),
    ({"account": {"time_zone": "Mars/Olympus"}}, "accounts[0].time_zone"),
    ({"account": {"payment_terms_days": 100_000_000}}, "accounts[0].payment_terms_days"),
    ({"catalog": {"currency": "notacurrency", "products": []}}, "catalog.currency"),
])
def test_a_hostile_scenario_file_exits_2_naming_the_event_and_field(tmp_path, capsys, change, where):
    assert cli_main.main(["scenario", "run", str(_scenario(tmp_path, **change))]) == 2
    assert where in capsys.readouterr().err


def test_decimal_places_count_the_exponent():
    assert TypeAdapter(t.Amount).validate_python("1E+2") == Decimal(100)


def test_usage_dimensions_are_optional_and_checked():
    """Issue 13: direction, group, user and number are additive: a record without them is valid."""
    base = {"record_id": "r", "account_id": "a", "part_number": "FAX-PAGE-IN", "quantity": "3",
            "used_at": "2026-01-01T00:00:00Z"}
    old = UsageRecordedV1.model_validate(base)
    assert (old.direction, old.group, old.user, old.number) == (None, None, None, None)
    full = UsageRecordedV1.model_validate({**base, "direction": "inbound", "group": "Sales", "user": "u-7",
                                           "number": "+493012345678"})
    assert UsageRecordedV1.model_validate(full.model_dump(mode="json", by_alias=True)) == full
    for bad in ({"direction": "sideways"}, {"user": "a/b"}, {"number": "+49 30"}, {"group": ""}):
        with pytest.raises(ValidationError):
            UsageRecordedV1.model_validate({**base, **bad})
