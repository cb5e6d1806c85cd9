"""Rating's hot wire paths equal the validated ones: the charges envelope, and the usage decoder."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import orjson
import pytest
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.registry import parse
from contracts import build_envelope, wrap
from contracts.usage import UsageRecordedV1
from services.rating.wire import charges_envelope, charges_envelope_checked, decode_usage, line_json
from tests.support.rating import sample_rating as _rating

UTC = timezone.utc


def test_fast_envelope_equals_the_validated_one():
    now, correlation = datetime(2026, 4, 1, 6, tzinfo=UTC), uuid4()
    fast = charges_envelope("run-1", "2026-04", _rating(), "rating", now, correlation)
    checked = charges_envelope_checked("run-1", "2026-04", _rating(), "rating", now, correlation)
    fast_wire, checked_wire = Envelope.decode(fast.encode()), Envelope.decode(checked.encode())
    assert fast_wire.model_dump(exclude={"event_id"}) == checked_wire.model_dump(exclude={"event_id"})
    assert parse(fast_wire) == parse(checked_wire)
    assert any(line["unit_price"] is None for line in fast_wire.payload["lines"])  # tiered usage


def test_lines_carry_the_product_name_and_the_customer():
    now = datetime(2026, 4, 1, 6, tzinfo=UTC)
    lines = Envelope.decode(charges_envelope("run-1", "2026-04", _rating(), "rating", now, None).encode()).payload["lines"]
    assert {(x["part_number"], x["product_name"]) for x in lines} == {("FEAT", "Feature"), ("FAX", "Fax pages")}
    assert {x["subscription_id"]: x["customer_id"] for x in lines} == {"s1": None, "s2": "cust-1", None: None}


def _line_dict(x) -> dict:
    """A charge line's wire dict, field by field (what line_json's text must be)."""
    return {"subscription_id": x.subscription, "part_number": x.part_number, "product_name": x.product_name,
            "from": x.from_date.isoformat(), "to": x.to_date.isoformat(), "quantity": str(x.quantity),
            "unit_price": None if x.unit_price is None else str(x.unit_price), "price_version": x.price_version,
            "amount": str(x.amount), "days": x.days, "month_days": x.month_days, "rule": x.rule, "late": x.late,
            "explanation": x.explanation, "customer_id": x.customer}


def test_a_lines_text_is_its_dict_dumped():
    lines = _rating().result.lines
    # ids JSON must escape, in the explanation too; and the same shape for another subscription
    odd = [replace(x, subscription='s"\\1\u00e9\n', customer='c"1') for x in lines if x.subscription] + \
          [replace(x, customer="cust-2") for x in lines if x.subscription is None]
    for x in [*lines, *odd, *lines]:
        assert orjson.dumps(line_json(x)) == orjson.dumps(_line_dict(x))


def _usage_raw(**payload) -> bytes:
    body = {"record_id": "r-1", "account_id": "acme", "part_number": "FAX", "quantity": "2.5",
            "used_at": "2026-04-02T10:00:00+02:00", "received_at": "2026-04-02T08:05:00Z", **payload}
    return build_envelope("usage.recorded", 1, body, key="acme", producer="test",
                          occurred_at=datetime(2026, 4, 2, 9, tzinfo=UTC)).encode()


def test_usage_decoder_equals_the_general_path():
    raw = _usage_raw()
    envelope, record = decode_usage(raw)
    general = Envelope.decode(raw)
    assert record == parse(general) and isinstance(record, UsageRecordedV1)
    assert (envelope.event_id, envelope.occurred_at, envelope.key) == (general.event_id, general.occurred_at, "acme")
    # what a held record is stored as decodes to the same record
    assert parse(Envelope.decode(envelope.encode())) == record


def test_usage_decoder_refuses_what_the_general_path_refuses():
    for bad in (_usage_raw(quantity="-1"), _usage_raw(record_id="r\u00e9/1"), _usage_raw(used_at="2026-04-02T10:00:00"),
                b"not json", _usage_raw(account_id=None)):
        with pytest.raises((ValidationError, ValueError)):
            decode_usage(bad)


def test_other_types_on_the_topic_take_the_general_path():
    other = wrap(UsageRecordedV1(record_id="r-2", account_id="acme", part_number="FAX", quantity=Decimal(1),
                                 used_at=datetime(2026, 4, 2, tzinfo=UTC)), key="acme", producer="test",
                 occurred_at=datetime(2026, 4, 2, tzinfo=UTC))
    raw = other.encode().replace(b'"schema_version":1', b'"schema_version":7')
    with pytest.raises(ValueError, match="unknown version"):
        decode_usage(raw)
