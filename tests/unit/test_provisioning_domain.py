"""Provisioning's pure rules as tables: the clarified rules of BILLING_RULES sections 3-4."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.provisioning.commands import (
    COMMANDS, BrandReady, CustomerProvisioned, FeatureProvisioned, PartnerOnboarded, RegionActivated,
    TerminationRequested,
)
from services.provisioning.domain import Accepted, ProvisioningState, ProductRule, Rejection, handle

T0 = datetime(2026, 3, 15, 10, 0, tzinfo=timezone.utc)
PRODUCTS = [ProductRule("USER", "recurring"), ProductRule("PACK", "pack"),
            ProductRule("PACK-EOM", "pack", "end_of_month"),
            ProductRule("FULL", "recurring", "end_of_month", 12), ProductRule("THEME", "recurring", "end_of_month"),
            ProductRule("REGION", "recurring", "end_of_month", 12)]


def _at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def _state() -> ProvisioningState:
    """One account with a ready Full Brand b1, a region r1 on it, a feature f1 and a pack p1."""
    state = ProvisioningState(accounts={"a": "UTC"}, products={p.part_number: p for p in PRODUCTS})
    for cmd in (BrandReady(at=_at(0), account="a", subscription="b1", part_number="FULL", cloud="commercial"),
                RegionActivated(at=_at(0), account="a", subscription="r1", part_number="REGION",
                        brands=("b1",)),
                FeatureProvisioned(at=_at(0), account="a", subscription="f1", part_number="USER"),
                PartnerOnboarded(at=_at(0), account="a", subscription="p1", part_number="PACK"),
                PartnerOnboarded(at=_at(0), account="a", subscription="p2", part_number="PACK-EOM")):
        assert isinstance(handle(state, cmd), Accepted)
    return state


def _terminate(state: ProvisioningState, subscription: str, days: int = 10) -> None:
    cmd = TerminationRequested(at=_at(days), account="a", subscription=subscription)
    assert isinstance(handle(state, cmd), Accepted)


# A brand or region whose termination was accepted takes no new customers, clouds, regions or brands.
ALREADY_ENDED = [
    ("b1", CustomerProvisioned(at=_at(20), account="a", customer="c9", brand="b1")),
    ("r1", CustomerProvisioned(at=_at(20), account="a", customer="c9", regions=("r1",))),
    ("b1", BrandReady(at=_at(20), account="a", subscription="b1", part_number="FULL", cloud="gov")),
    ("b1", RegionActivated(at=_at(20), account="a", subscription="r2", part_number="REGION",
                   brands=("b1",))),
    ("r1", RegionActivated(at=_at(20), account="a", subscription="r1", part_number="REGION",
                   brands=("b1",))),
]


@pytest.mark.parametrize(("ended", "cmd"), ALREADY_ENDED, ids=[f"{c.type}-{e}" for e, c in ALREADY_ENDED])
def test_a_terminated_brand_or_region_takes_nothing_new(ended, cmd):
    assert isinstance(handle(_state(), cmd), Accepted)  # acceptable before the termination
    state = _state()
    _terminate(state, ended)
    assert handle(state, cmd) == Rejection("already_ended")


# Naming a feature (or a pack) where a brand or region is expected is an unknown subscription.
WRONG_ROLE = [
    RegionActivated(at=_at(1), account="a", subscription="r2", part_number="REGION", brands=("f1",)),
    RegionActivated(at=_at(1), account="a", subscription="r2", part_number="REGION", brands=("r1",)),
    CustomerProvisioned(at=_at(1), account="a", customer="c9", brand="f1"),
    CustomerProvisioned(at=_at(1), account="a", customer="c9", brand="r1"),
    CustomerProvisioned(at=_at(1), account="a", customer="c9", regions=("f1",)),
    CustomerProvisioned(at=_at(1), account="a", customer="c9", brand="b1", regions=("p1",)),
]


@pytest.mark.parametrize("cmd", WRONG_ROLE, ids=[f"{c.type}-{i}" for i, c in enumerate(WRONG_ROLE)])
def test_a_reference_of_the_wrong_role_is_an_unknown_subscription(cmd):
    assert handle(_state(), cmd) == Rejection("unknown_subscription")


# Which endings are reported in `terminations`, with their effective date.
REPORTED = [
    ("feature_removed", "f1", None),  # a feature's removal is no termination
    ("termination_requested", "f1", date(2026, 3, 25)),
    ("feature_removed", "p1", date(2026, 3, 25)),  # packs end at once (immediate by default)
    ("termination_requested", "p1", date(2026, 3, 25)),
    ("feature_removed", "p2", date(2026, 4, 1)),  # an end_of_month pack ends at the month end
    ("feature_removed", "b1", date(2027, 4, 1)),  # a brand's removal is its termination request
    ("termination_requested", "r1", date(2027, 4, 1)),
]


@pytest.mark.parametrize(("kind", "subscription", "effective"), REPORTED,
                         ids=[f"{k}-{s}" for k, s, _ in REPORTED])
def test_terminations_reported_and_their_effective_dates(kind, subscription, effective):
    state = _state()
    if subscription == "b1":  # the region on it ends first, or the brand could not
        _terminate(state, "r1")
    outcome = handle(state, COMMANDS[kind](at=_at(10), account="a", subscription=subscription))
    assert isinstance(outcome, Accepted)
    assert outcome.termination == ((subscription, effective) if effective else None)


def test_packs_end_by_their_products_termination_kind():
    state = _state()
    for sid in ("p1", "p2"):
        _terminate(state, sid)
    assert state.items["p1"].end == _at(10) and state.items["p1"].termination_effective is None
    assert state.items["p2"].end is None and state.items["p2"].termination_effective == date(2026, 4, 1)


BILLING_STARTED = [
    (BrandReady(at=_at(1), account="a", subscription="b2", part_number="THEME", cloud="gov"), False),
    (BrandReady(at=_at(1), account="a", subscription="b2", part_number="THEME", cloud="commercial"), True),
    (BrandReady(at=_at(1), account="a", subscription="b1", part_number="FULL", cloud="gov"), False),
    (RegionActivated(at=_at(1), account="a", subscription="r2", part_number="REGION"), False),
    (RegionActivated(at=_at(1), account="a", subscription="r2", part_number="REGION",
             brands=("b1",)), True),
]


@pytest.mark.parametrize(("cmd", "started"), BILLING_STARTED, ids=[str(i) for i in range(len(BILLING_STARTED))])
def test_the_domain_says_when_a_command_started_billing(cmd, started):
    outcome = handle(_state(), cmd)
    assert isinstance(outcome, Accepted) and outcome.billing_started is started


def test_a_placement_keeps_the_customers_creation():
    state = _state()
    handle(state, CustomerProvisioned(at=_at(1), account="a", customer="c1", brand="b1"))
    handle(state, CustomerProvisioned(at=_at(5), account="a", customer="c1", regions=("r1",)))
    assert state.customers["c1"].provisioned_at == _at(1) and state.customers["c1"].regions == ("r1",)


def test_a_region_starts_with_its_first_full_brand_not_a_theme_brand():
    """Section 3: the Activation Date is the first time the region is made available to a Full
    Brand. With brand types in the catalogue a Theme Brand does not start it; without (the scenario
    format's catalogues) any brand does."""
    typed = [ProductRule("FULL", "recurring", "end_of_month", 12, "full"),
             ProductRule("THEME", "recurring", "end_of_month", 0, "theme"),
             ProductRule("REGION", "recurring", "end_of_month", 12)]
    for products, theme_starts in ((typed, False), (PRODUCTS, True)):
        state = ProvisioningState(accounts={"a": "UTC"}, products={p.part_number: p for p in products})
        for brand, part in (("t", "THEME"), ("f", "FULL")):
            ready = BrandReady(at=_at(0), account="a", subscription=brand, part_number=part, cloud="commercial")
            assert isinstance(handle(state, ready), Accepted)
        on_theme = handle(state, RegionActivated(at=_at(1), account="a", subscription="r", part_number="REGION",
                                                 brands=("t",)))
        assert on_theme.billing_started is theme_starts
        on_full = handle(state, RegionActivated(at=_at(5), account="a", subscription="r", part_number="REGION",
                                                brands=("f",)))
        assert on_full.billing_started is not theme_starts
        assert state.items["r"].start == (_at(1) if theme_starts else _at(5))
