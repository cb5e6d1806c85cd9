"""Builders for rating's tests: instants, envelopes from the test producer, the seed catalogue."""

from __future__ import annotations

import json
from datetime import datetime

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import CatalogPublishedV1
from tests.support.infra import ROOT

SCENARIOS = ROOT.parent / "shared" / "scenarios"


def at(text: str) -> datetime:
    """An aware instant from ISO text (`Z` accepted)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def env(payload, key: str, when: str = "2026-01-01T00:00:00Z") -> Envelope:
    """`payload` in an envelope from the test producer, occurring at `when`."""
    return wrap(payload, key=key, producer="test", occurred_at=at(when))


def seed_catalog(when: str = "2026-01-01T00:00:00Z") -> CatalogPublishedV1:
    """The USD catalogue of the shared scenario seed-000-example-1, published at `when`."""
    products = json.loads((SCENARIOS / "seed-000-example-1.json").read_text())["catalog"]["products"]
    return CatalogPublishedV1(currency="USD", products=products, at=at(when))
