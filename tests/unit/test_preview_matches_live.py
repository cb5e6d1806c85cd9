"""The scenario preview and the live rating service map the same stored facts the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenarios import load_scenario
from cli.scenarios.runner import build_catalog, provision, run_account, subscription_facts
from services.rating.domain import AccountFailure, rate_accounts
from services.rating.pricing import EMPTY_LEDGER
from shared.calendar import month_text

REPO = Path(__file__).parents[2]
FILES = [*sorted((REPO.parent / "shared" / "scenarios").glob("*.json")),
         *sorted((REPO / "tests" / "scenarios").glob("*.json"))]


def _live_facts(scenario, p, account) -> dict[str, list]:
    """What rating's store.load_facts would hand rate_accounts for this account, from the same facts."""
    return {
        "catalog": [{"currency": scenario.catalog.currency, "product": product.model_dump(mode="json")}
                    for product in scenario.catalog.products],
        "subscriptions": [dict(fact, billed_through=None) for fact in subscription_facts(p.state, account.id)],
        "user_counts": [{"account_id": account.id, "at": at, "count": count} for at, count in p.counts[account.id]],
        "usage": [{"account_id": account.id, "record_id": r.id, "part_number": r.part_number, "quantity": r.quantity,
                   "used_at": r.used_at, "received_at": r.arrived_at} for r in p.usage[account.id]],
        "usage_units": [],
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_preview_and_live_rate_the_same_facts_alike(path):
    scenario = load_scenario(path)
    p = provision(scenario)
    if not p.runs:
        pytest.skip("no billing run")
    catalog, month = build_catalog(scenario), p.runs[0]
    for account in scenario.accounts:
        invoice, _ = run_account(p.state, catalog, account, month, p.counts[account.id], p.usage[account.id],
                                 EMPTY_LEDGER)
        book = account.price_book
        row = {"account_id": account.id, "time_zone": account.time_zone, "currency": scenario.catalog.currency,
               "mode": "subscription", "payment_terms_days": account.payment_terms_days,
               "price_book": {"id": book.id, "prices": dict(book.prices)} if book else None}
        [live] = rate_accounts(month_text(month), [row], _live_facts(scenario, p, account))
        assert not isinstance(live, AccountFailure), live
        assert live.result.lines == (invoice.lines if invoice else ())
