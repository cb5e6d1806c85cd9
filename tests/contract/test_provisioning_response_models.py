"""The Onboarding API's (provisioning) response models list exactly the keys the handlers return (a
key missing from a model would be filtered out); every JSON 2xx answer having a schema:
tests/contract/test_response_models.py."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from pydantic import BaseModel

from contracts import provisioning as events
from contracts.registry import type_of
from services.provisioning import api_models as api
from services.provisioning import handlers, queries


def test_every_response_model_keeps_unlisted_keys():
    models = [m for m in vars(api).values()
              if isinstance(m, type) and issubclass(m, BaseModel) and m.__name__.endswith("Out")]
    assert len(models) > 20
    assert [m.__name__ for m in models if m.model_config.get("extra") != "allow"] == []


# every event a write answers with: the model lists the contract's fields, and its `type`
EVENT_MODELS = {
    events.CatalogPublishedV1: api.CatalogPublishedOut, events.AccountOpenedV1: api.AccountOpenedOut,
    events.AccountSettingsChangedV1: api.AccountSettingsChangedOut,
    events.CustomerProvisionedV1: api.CustomerProvisionedOut, events.CustomerRemovedV1: api.CustomerRemovedOut,
    events.FeatureProvisionedV1: api.FeatureProvisionedOut, events.BrandReadyV1: api.BrandReadyOut,
    events.RegionActivatedV1: api.RegionActivatedOut, events.PartnerOnboardedV1: api.PartnerOnboardedOut,
    events.FeatureRemovedV1: api.FeatureRemovedOut, events.TerminationScheduledV1: api.TerminationScheduledOut,
    events.ProductV1: api.ProductOut, events.TierV1: api.TierOut, events.PriceVersionV1: api.PriceVersionOut,
    events.PriceBookV1: api.PriceBookOut,
}


@pytest.mark.parametrize("contract", EVENT_MODELS, ids=lambda c: c.__name__)
def test_event_models_list_every_field_of_their_contract(contract):
    model = EVENT_MODELS[contract]
    expected = set(contract.model_fields)
    if "type" in model.model_fields:
        expected.add("type")
        assert model.model_fields["type"].annotation.__args__ == (type_of(contract)[0],)
    assert set(model.model_fields) == expected


T = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _account_row(**kw) -> dict:
    return {"account_id": "acme", "name": "Acme", "parent_account_id": None, "time_zone": "UTC",
            "mode": "subscription", "currency": "USD", "payment_terms_days": 30, "opened_at": T,
            "automatic_runs": True, "price_book": {"id": "b", "prices": {"XDM00001": "1.50"}},
            "low_balance_threshold": Decimal("0"), "pending_mode": "prepaid", "pending_at": T, **kw}


def _subscription_row(**kw) -> dict:
    return {"subscription_id": "s1", "account_id": "acme", "role": "brand", "part_number": "B1", "quantity": 1,
            "customer_id": None, "started_at": T, "billing_start": None, "clouds": ["commercial"],
            "brand_ids": [], "full_brand_id": None, "termination_requested_at": T, "ended_at": None,
            "termination_effective": date(2026, 3, 31), **kw}


CUSTOMER = {"customer_id": "c1", "account_id": "acme", "brand_id": "b1", "region_ids": ["r1"],
            "provisioned_at": T, "removed_at": None}


@pytest.mark.parametrize(("model", "shown"), [
    (api.AccountOut, queries._account(_account_row())),
    (api.AccountOut, queries._account(_account_row(price_book=None, pending_mode=None, pending_at=None))),
    (api.AccountDetailOut, {**queries._account(_account_row(), T), "child_account_ids": ["child"]}),
    (api.CustomerOut, queries._customer(CUSTOMER)),
    (api.CustomerOut, queries._customer({**CUSTOMER, "brand_id": None, "removed_at": T})),
    (api.SubscriptionOut, queries._subscription(_subscription_row(), "UTC", T)),
    (api.SubscriptionOut, queries._subscription(_subscription_row(billing_start=T), "UTC", T)),
    (api.SubscriptionOut, queries._subscription(_subscription_row(ended_at=T, termination_effective=None),
                                                "UTC", T)),
    (api.SubscriptionOut, queries._subscription(_subscription_row(termination_effective=None,
                                                                  termination_requested_at=None), "UTC", T)),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_read_models_return_what_the_queries_show_unchanged(model, shown):
    """Every key is listed (no extra), and the answer after the model is the query's, key for key."""
    validated = model.model_validate(shown)
    assert _extras(validated) == []
    assert validated.model_dump(mode="json", exclude_unset=True) == shown


def _extras(value) -> list[str]:
    """The keys no model lists, at any depth."""
    if isinstance(value, BaseModel):
        return [*(value.model_extra or {}), *(k for f in type(value).model_fields for k in _extras(getattr(value, f)))]
    if isinstance(value, list):
        return [k for v in value for k in _extras(v)]
    return []


def test_the_answers_of_the_writes_are_listed_key_for_key():
    tiers = [events.TierV1(up_to=100, unit_price="0.5"), events.TierV1(unit_price="0.25")]
    product = events.ProductV1(part_number="U1", kind="usage", unit_price="0.010000", tiers=tiers,
                               tier_mode="graduated", versions=[events.PriceVersionV1(
                                   id="v2", effective_from=date(2026, 4, 1), unit_price="0.02", tiers=tiers)])
    book = events.PriceBookV1(id="b", prices={"U1": "0.01"})
    for model, event in [
        (api.CatalogEventsOut, events.CatalogPublishedV1(products=[product], at=T)),
        (api.AccountOpenedEventsOut, events.AccountOpenedV1(account_id="a", price_book=book, at=T)),
        (api.AccountOpenedEventsOut, events.AccountOpenedV1(account_id="a", parent_account_id="p", at=T)),
        (api.AccountSettingsChangedEventsOut, events.AccountSettingsChangedV1(account_id="a", at=T)),
        (api.AccountSettingsChangedEventsOut, events.AccountSettingsChangedV1(
            account_id="a", mode="prepaid", mode_effective_at=T, low_balance_threshold="3.00", at=T)),
        (api.SubscriptionEndedEventsOut, events.TerminationScheduledV1(
            account_id="a", subscription_id="s", part_number="B1", requested_at=T, effective_at=T,
            effective_date=date(2026, 3, 31))),
        (api.SubscriptionEndedEventsOut, events.FeatureRemovedV1(account_id="a", subscription_id="s", at=T)),
    ]:
        shown = handlers._shown([event])
        validated = model.model_validate(shown)
        assert _extras(validated) == [], model
        assert validated.model_dump(mode="json") == shown, model


def test_the_catalogue_is_answered_as_stored():
    shown = {"currency": "USD", "products": [{"part_number": "OLD", "kind": "recurring", "unit_price": "1"}]}
    assert api.CatalogOut.model_validate(shown).model_dump(mode="json") == shown
