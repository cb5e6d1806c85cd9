"""Containment in the pure code: one account's failure is returned as its own, never raised for all."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.invoicing import domain as invoicing
from services.rating import domain as rating

T = datetime(2026, 4, 1, 6, tzinfo=timezone.utc)
PRODUCT = {"part_number": "XDM00001", "kind": "recurring", "unit_price": "12.00"}


def _account(aid: str, tz: str = "UTC", currency: str = "USD") -> dict:
    return {"account_id": aid, "time_zone": tz, "currency": currency, "mode": "subscription",
            "payment_terms_days": 30, "price_book": None}


def _sub(aid: str, started_at) -> dict:
    return {"subscription_id": f"{aid}-s", "account_id": aid, "part_number": "XDM00001", "quantity": 1,
            "started_at": started_at, "ended_at": None, "kind": "feature", "full_brand_id": None,
            "termination_requested_at": None, "termination_effective": None, "billed_through": None,
            "customer_id": None}


@pytest.mark.parametrize("bad, reason", [
    (_account("x", currency="GBP"), "LookupError"),                    # no catalogue in its currency
    (_account("x", currency="notacurrency"), "LookupError"),
    (_account("x", tz="Mars/Olympus"), "ZoneInfoNotFoundError"),       # a zone zoneinfo does not know
    (_account("x", tz="../../etc/passwd"), "ValueError"),
    (_account("x", tz="A" * 10_000), None),                             # whatever the OS says of it
])
def test_a_failing_account_is_yielded_as_its_failure_and_the_others_are_rated(bad, reason):
    facts = {"catalog": [{"currency": "USD", "product": PRODUCT}],
             "subscriptions": [_sub(a, datetime(2026, 3, 1, tzinfo=timezone.utc)) for a in ("a", "x", "z")],
             "user_counts": [], "usage": [], "usage_units": []}
    out = list(rating.rate_accounts("2026-04", [_account("a"), bad, _account("z")], facts))
    assert [type(r).__name__ for r in out] == ["AccountRating", "AccountFailure", "AccountRating"]
    assert out[1].account_id == "x" and out[1].error and (reason is None or out[1].reason == reason)
    assert out[0].result.total == out[2].result.total == Decimal("24.00")


def test_a_minus_infinity_date_fails_its_account_only():
    # asyncpg reads -infinity as a naive datetime(1, 1, 1): compared with aware instants, it fails
    facts = {"catalog": [{"currency": "USD", "product": PRODUCT}],
             "subscriptions": [_sub("a", datetime(1, 1, 1)), _sub("b", datetime(2026, 3, 1, tzinfo=timezone.utc))],
             "user_counts": [], "usage": [], "usage_units": []}
    out = list(rating.rate_accounts("2026-04", [_account("a"), _account("b")], facts))
    assert isinstance(out[0], rating.AccountFailure) and isinstance(out[1], rating.AccountRating)


@pytest.mark.parametrize("month, ok", [("2026-04", True), ("2000-01", True), ("0000-01", False),
                                       ("0001-01", False), ("9999-12", False), ("2026-13", False),
                                       ("2026-00", False), ("", False), ("abcd-ef", False), ("2026-4-1", False), ("2026-04\n", False)])
def test_month_error(month, ok):
    assert (rating.month_error(month) is None) is ok


def test_failure_text_is_cut():
    f = rating.failure("a", ValueError("x" * 10_000))
    assert f.reason == "ValueError" and len(f.error) == 2000


def test_runs_due_skips_a_failing_account():
    known = [invoicing.KnownAccount("ok", "UTC", T - timedelta(days=90)),
             invoicing.KnownAccount("mars", "Mars/Olympus", T - timedelta(days=90)),
             invoicing.KnownAccount("ok2", "Asia/Tokyo", T - timedelta(days=90))]
    failed: list = []
    assert invoicing.runs_due(known, T, failed) == {"2026-04": ["ok", "ok2"]}
    assert [a for a, _ in failed] == ["mars"]


USD = {"USD": Decimal("30.00")}


@pytest.mark.parametrize("kwargs, status", [
    ({}, "reconciled"),
    ({"rating_quarantined": 2}, "completed_with_quarantine"),
    ({"failure": "month cannot be rated"}, "failed"),
])
def test_reconcile_statuses(kwargs, status):
    assert invoicing.reconcile(1, USD, {"USD": (1, Decimal("30.00"))}, **kwargs).status == status


def test_reconcile_counts_invoicing_quarantine_with_the_invoices():
    received, held = {"USD": (1, Decimal("10.00"))}, {"USD": (1, Decimal("20.00"))}
    rec = invoicing.reconcile(2, USD, received, quarantined=held)
    assert rec.status == "completed_with_quarantine" and rec.problems == ()
    short = invoicing.reconcile(3, {"USD": Decimal("40.00")}, received, quarantined=held, summary_at=T,
                                now=T + timedelta(hours=1))
    assert short.status == "mismatch"
