"""Every kind of line carries the product's catalogue name, and a customer's feature its customer."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

from services.rating.pricing import Account, BilledLedger, Catalog, Product, Subscription, UsageRecord, billing_run

UTC = timezone.utc
CAT = Catalog.of("USD", [
    Product("FEAT", "recurring", D("12.00"), name="Call recording"),
    Product("BARE", "recurring", D("5.00")),
    Product("PACK", "pack", D("2500.00"), name="User pack", pack_size=100_000, minimum_packs=1),
    Product("FAX", "usage", D("0.04"), name="Fax pages"),
])
START = datetime(2026, 3, 10, tzinfo=UTC)


def _lines(ledger=None):
    subs = [Subscription("own", "acme", "FEAT", START), Subscription("theirs", "acme", "FEAT", START, 2, customer="c-7"),
            Subscription("bare", "acme", "BARE", START, customer="c-8"), Subscription("pack", "acme", "PACK", START)]
    usage = [UsageRecord("u1", "FAX", D(10), datetime(2026, 3, 11, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))]
    kwargs = {"ledger": ledger} if ledger is not None else {}
    return billing_run("2026-04", Account("acme"), CAT, subs, [(START, 5)], usage, **kwargs).lines


def test_pieces_and_usage_carry_name_and_customer():
    got = {(x.subscription, x.rule, x.product_name, x.customer) for x in _lines()}
    assert ("own", "pro_rata_arrears", "Call recording", None) in got
    assert ("theirs", "in_advance", "Call recording", "c-7") in got
    assert ("bare", "in_advance", "", "c-8") in got  # a product without a name: empty
    assert ("pack", "pack", "User pack", None) in got
    assert (None, "usage", "Fax pages", None) in got


def test_the_in_advance_shortcut_carries_them_too():
    billed = {s: datetime(2026, 4, 1).date() for s in ("own", "theirs", "bare", "pack")}
    lines = [x for x in _lines(BilledLedger(billed)) if x.subscription in ("own", "theirs", "bare")]
    assert {(x.subscription, x.rule, x.product_name, x.customer) for x in lines} == {
        ("own", "in_advance", "Call recording", None), ("theirs", "in_advance", "Call recording", "c-7"),
        ("bare", "in_advance", "", "c-8")}
