"""The invoicing API's response models drop no key a handler returns (every JSON 2xx answer
having a schema: tests/contract/test_response_models.py)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from services.invoicing import api as invoicing
from services.invoicing import containment_api, money_api
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings

@pytest.fixture(scope="module")
def doc() -> dict:
    app = invoicing.http_app(ServiceRuntime(Settings(service="invoicing"), None))  # no pool: nothing reaches it
    add_platform_routes(app)
    return app.openapi()


def test_csv_exports_stay_csv(doc):
    for path in ("/v1/invoices/{number}/lines.csv", "/v1/accounts/{account_id}/usage.csv",
                 "/v1/accounts/{account_id}/statements/{month}.csv"):
        assert doc["paths"][path]["get"]["responses"]["200"]["content"]["text/csv"]["schema"] == {"type": "string"}


def _models():
    for module in (invoicing, money_api, containment_api):
        for name, value in vars(module).items():
            if (name.endswith("Out") and isinstance(value, type) and issubclass(value, BaseModel)
                    and value.__module__ == module.__name__):
                yield value


@pytest.mark.parametrize("model", list(_models()), ids=lambda m: m.__name__)
def test_response_models_keep_keys_they_do_not_list(model):
    """A key a handler adds later must reach the client, not vanish through the response model."""
    assert model.model_config.get("extra") == "allow"


def test_an_invoice_keeps_every_line_field_and_its_absent_keys_absent():
    line = {"part_number": "P-1", "product_name": "Fax", "subscription_id": None, "from": "2024-05-01",
            "to": "2024-06-01", "quantity": "1", "unit_price": "10.00", "price_version": "v1", "amount": "10.00",
            "days": None, "month_days": None, "rule": "", "late": False, "explanation": "", "customer_id": None,
            "added_later": {"x": 1}}
    invoice = {"invoice_number": "ACME-000001", "issuer": "acme", "account_id": "a1", "month": "2024-05",
               "run_id": "r1", "currency": "USD", "issue_date": "2024-06-01", "due_date": "2024-07-01",
               "total": "10.00", "paid_total": "0", "surcharge_total": "0", "status": "issued",
               "outstanding": "10.00", "lines": [line],
               "amounts": {"total": "10.00", "credited": "0.00", "paid": "0.00", "due": "10.00",
                           "surcharges": "0.00", "outstanding": "10.00", "disputed_open": "0.00",
                           "overdue": "0.00", "status": "open"},
               "credit_notes": [], "refunds": [], "payments": [], "surcharges": [], "unlisted": "kept"}
    out = invoicing.InvoiceDetailOut.model_validate(invoice).model_dump(mode="json", by_alias=True,
                                                                        exclude_unset=True)
    assert out == invoice  # `customers` (group_by=customer only) stays absent, nothing renamed or dropped


def test_a_repeated_payment_answers_without_invoice_status():
    repeated = {"payment_id": "p1", "invoice_number": "ACME-000001", "amount": "5.00", "currency": "USD",
                "method": "card", "paid_at": "2024-06-02T00:00:00+00:00", "surcharge": "0.00"}
    out = invoicing.PaymentOut.model_validate(repeated).model_dump(mode="json", exclude_unset=True)
    assert out == repeated
