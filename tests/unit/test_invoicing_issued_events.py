"""InvoiceIssuedV1 events encoded before their numbers, numbered after: a valid event each."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from contracts.envelope import Envelope, build_envelope
from contracts.invoicing import InvoiceIssuedV1
from contracts.registry import parse
from services.invoicing import issued_events

NOW = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
LINE = {"part_number": "P-1", "product_name": 'Seats "pro" \u00e9', "from": "2026-02-01", "to": "2026-03-01",
        "quantity": "3", "unit_price": "12.50", "amount": "37.50"}


def _payload(account: str) -> dict:
    return {"issuer": "acme", "account_id": account, "month": "2026-02", "run_id": "2026-02-run1",
            "issue_date": "2026-02-01", "due_date": "2026-03-03", "currency": "EUR", "total": "37.50",
            "lines": orjson.Fragment(orjson.dumps([LINE]))}


def test_numbered_events_are_the_contract_with_each_number_and_cause():
    causes = [build_envelope("rating.account.charges_rated", 1, {}, key=f"acct-{i}", producer="rating",
                             occurred_at=NOW) for i in range(3)]
    events = issued_events.encode([_payload(f"acct-{i}") for i in range(3)], causes, "invoicing", NOW)
    rows = issued_events.numbered(events, ["ACME-000007", "ACME-000008", "ACME-000009"])
    for i, (key, event_id, event_type, raw) in enumerate(rows):
        envelope = Envelope.decode(raw)
        issued = parse(envelope)
        assert isinstance(issued, InvoiceIssuedV1) and event_type == envelope.type == "invoicing.invoice.issued"
        assert (key, envelope.key, envelope.event_id) == (f"acct-{i}", f"acct-{i}", event_id)
        assert issued.invoice_number == f"ACME-00000{7 + i}" and issued.lines[0].product_name == LINE["product_name"]
        assert list(envelope.payload)[:2] == ["invoice_number", "issuer"]
        assert envelope.causation_id == causes[i].event_id and envelope.producer == "invoicing"
