"""The portal's pure parts: sign-in throttling, statement months, how to pay, money on pages, the vault."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from services.portal import vault, view
from services.portal.pages.auth import _safe_next
from services.portal.render import last_day, money
from services.portal.throttle import Throttle

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_throttle_blocks_after_five_failures_within_the_window_and_forgets_after_it():
    throttle = Throttle(max_failures=5, window=timedelta(minutes=15))
    keys = ["email:a@b.example", "client:10.0.0.1"]
    for i in range(4):
        throttle.failed(keys, T0 + timedelta(minutes=i))
    assert throttle.blocked_for(keys, T0 + timedelta(minutes=4)) is None
    throttle.failed(keys, T0 + timedelta(minutes=4))
    assert throttle.blocked_for(keys, T0 + timedelta(minutes=5)) == timedelta(minutes=10)
    # another address from another client is not blocked; the same address from anywhere is
    assert throttle.blocked_for(["email:c@d.example", "client:10.0.0.2"], T0 + timedelta(minutes=5)) is None
    assert throttle.blocked_for(["email:a@b.example", "client:10.0.0.9"], T0 + timedelta(minutes=5))
    # the first failure leaves the window at T0 + 15 min: four remain, a try is allowed
    assert throttle.blocked_for(keys, T0 + timedelta(minutes=15)) is None


def test_a_success_clears_the_address_failures():
    throttle = Throttle(max_failures=2)
    throttle.failed(["email:a"], T0)
    throttle.succeeded(["email:a"])
    throttle.failed(["email:a"], T0)
    assert throttle.blocked_for(["email:a"], T0) is None


@pytest.mark.parametrize("first, last, expected", [
    ("2026-10", "2026-12", ["2026-12", "2026-11", "2026-10"]),
    ("2025-12", "2026-01", ["2026-01", "2025-12"]),
    ("2026-03", "2026-03", ["2026-03"]),
    ("2026-04", "2026-03", []),
])
def test_statement_months_newest_first(first, last, expected):
    assert view.months_between(first, last) == expected


@pytest.mark.parametrize("month, by, expected", [("2026-01", -1, "2025-12"), ("2026-12", 1, "2027-01"),
                                                 ("2024-02", 12, "2025-02")])
def test_shift_month(month, by, expected):
    assert view.shift_month(month, by) == expected


def test_month_bounds_are_half_open():
    start, end = view.month_bounds("2024-02")
    assert (start.isoformat(), end.isoformat()) == ("2024-02-01", "2024-03-01")


@dataclass
class _Bank:
    bank_payee: str = "Payee"
    bank_iban: str = "IBAN"
    bank_bic: str = "BIC"


@pytest.mark.parametrize("total, surcharged", [("2999.99", False), ("3000.00", True), ("3600.00", True)])
def test_how_to_pay_names_the_surcharge_rule_inclusive_at_3000(total, surcharged):
    pay = view.how_to_pay({"total": total, "issue_date": "2026-10-01", "due_date": "2026-10-31",
                           "invoice_number": "P-1"}, _Bank())
    assert pay["surcharged"] is surcharged and pay["terms_days"] == 30
    assert (pay["threshold"], pay["rate_percent"], pay["reference"]) == ("3000.00", "3", "P-1")


@pytest.mark.parametrize("value, currency, shown", [("7106.47", "USD", "7,106.47 USD"), ("0.00", "", "0.00"),
                                                    ("1200", "JPY", "1,200 JPY"), ("-12.5", "EUR", "-12.5 EUR"),
                                                    (None, "USD", "")])
def test_money_keeps_the_api_digits(value, currency, shown):
    assert money(value, currency) == shown


def test_money_subtracted_is_signed_unless_zero():
    assert (money("1000.00", "USD", minus=True), money("0.00", "USD", minus=True)) == ("−1,000.00 USD", "0.00 USD")


@pytest.mark.parametrize("target, safe", [("/invoices/P-1", "/invoices/P-1"), ("https://evil.example/", "/invoices"),
                                          ("//evil.example/x", "/invoices"), ("", "/invoices"),
                                          (None, "/invoices"), ("javascript:alert(1)", "/invoices")])
def test_sign_in_redirects_only_within_the_portal(target, safe):
    assert _safe_next(target) == safe


def test_vault_is_made_once_readable_by_its_owner_only_and_opens_what_it_sealed(tmp_path):
    path = tmp_path / "secrets" / "portal.json"
    first = vault.load(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = vault.load(path)
    assert again.session_key == first.session_key
    sealed = first.seal("bk_0123456789abcdef_secret")
    assert b"secret" not in sealed and again.open(sealed) == "bk_0123456789abcdef_secret"
    with pytest.raises(ValueError):
        vault.load(tmp_path / "other.json").open(sealed)


@pytest.mark.parametrize("raw", ["0", "-1", "forever", "1000"])
def test_a_session_lifetime_out_of_bounds_stops_the_portal(raw, monkeypatch):
    from services.portal.settings import PortalSettings
    from shared.settings import SettingsError

    monkeypatch.setenv("PORTAL_SESSION_HOURS", raw)
    with pytest.raises(SettingsError, match="PORTAL_SESSION_HOURS"):
        PortalSettings.from_env()


@pytest.mark.parametrize("to, shown", [("2026-10-01", "2026-09-30"), ("2024-03-01T00:00:00+00:00", "2024-02-29"),
                                       ("", "")])
def test_a_line_period_shows_its_last_day(to, shown):
    assert last_day(to) == shown
