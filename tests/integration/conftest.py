"""Fixtures of the integration tier."""

from __future__ import annotations

import pytest

from shared.clock import FrozenClock
from tests.support import disputes as disputes_support
from tests.support.invoicing import T0, Invoicing


@pytest.fixture
async def invoicing(infra, namespace, db):
    """The invoicing service in this process on this test's topics and schema, its clock at T0."""
    service = Invoicing(infra, namespace, FrozenClock(T0))
    await service.runtime.start()
    yield service
    await service.http.aclose()
    await service.runtime.stop()


@pytest.fixture
async def disputes(infra, namespace, db):
    """The disputes service in this process on this test's topics and schema, its clock at a
    Tuesday 10:00 UTC (tests/support/disputes.py)."""
    service = disputes_support.Disputes(infra, namespace, FrozenClock(disputes_support.T0))
    await service.runtime.start()
    yield service
    await service.http.aclose()
    await service.runtime.stop()


@pytest.fixture
async def prepaid(infra, namespace, db):
    """The prepaid_credit service in this process on this test's topics and schema, its clock
    at 2026-03-01 (the examples of BILLING_RULES.md section 8)."""
    from tests.support.prepaid import Prepaid, at

    service = Prepaid(infra, namespace, FrozenClock(at("2026-03-01T00:00:00Z")))
    await service.runtime.start()
    yield service
    await service.http.aclose()
    await service.runtime.stop()
