"""Charges validated lean (`contracts.charges.ChargesBatch`, invoicing's decoding): the same input
accepted and refused as `AccountChargesRatedV2`, the same values, lines kept as dicts."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone
from decimal import Decimal

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from contracts import wrap
from contracts.charges import ChargeLineFields, ChargesBatch, ChargesItem, accounts, decode_lean, parse_lean
from contracts.envelope import Envelope
from contracts.rating import AccountChargesRatedV2, BillingRunRatedV1, ChargeLineV1
from contracts.registry import parse
from services.rating import wire
from tests.support.rating import sample_rating

NOW = datetime(2026, 4, 1, 6, tzinfo=timezone.utc)


def _payload() -> dict:
    """A batch's payload as a consumer reads it (rating writes its lines as JSON text)."""
    item = orjson.loads(orjson.dumps(wire.charges_item("run-1", "2026-04", sample_rating(), NOW)))
    return {"items": [item, dict(item, account_id="other", settlement="prepaid")]}


def _without(schema: object) -> object:
    """A JSON schema without what does not validate (titles, descriptions, defaults)."""
    if isinstance(schema, dict):
        return {k: _without(v) for k, v in schema.items() if k not in ("title", "description", "default")}
    if isinstance(schema, list):
        return [_without(v) for v in schema]
    return schema


def test_the_line_fields_are_the_lines_checks():
    assert _without(TypeAdapter(ChargeLineFields).json_schema()) == _without(ChargeLineV1.model_json_schema())


def test_the_lean_models_differ_from_the_contract_in_the_lines_only():
    full, lean = AccountChargesRatedV2.model_json_schema(), ChargesBatch.model_json_schema()
    full_defs, lean_defs = full.pop("$defs"), lean.pop("$defs")
    assert _without(full) == _without(lean) | {"properties": {"items": _without(full)["properties"]["items"]}}
    item, lean_item = full_defs["AccountChargesRatedV1"], lean_defs["ChargesItem"]
    assert _without({k: v for k, v in item["properties"].items() if k != "lines"}) == \
        _without({k: v for k, v in lean_item["properties"].items() if k != "lines"})
    assert item["required"] == lean_item["required"]


def _mutated(path: tuple, value: object) -> dict:
    payload = _payload()
    target = payload
    for step in path[:-1]:
        target = target[step]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


class _Drop:
    def __repr__(self) -> str:
        return "<left out>"


_DROP = _Drop()
LINE = ("items", 0, "lines", 0)
BAD = [
    (("items",), []), (("items",), None), (("items", 0, "month"), "2026-13"), (("items", 0, "currency"), "XAU"),
    (("items", 0, "time_zone"), "Mars/Olympus"), (("items", 0, "settlement"), "cash"),
    (("items", 0, "run_at"), "2026-04-01T06:00:00"), (("items", 0, "lines"), None), (("items", 0, "lines"), {}),
    (("items", 0, "lines", 0), "a line"), (("items", 0, "lines", 0), [1, 2]),
    ((*LINE, "amount"), "ten"), ((*LINE, "amount"), _DROP), ((*LINE, "amount"), None), ((*LINE, "amount"), 1.5e999),
    ((*LINE, "from"), "2026-02-30"), ((*LINE, "from"), _DROP), ((*LINE, "to"), 20260501),
    ((*LINE, "part_number"), "has space"), ((*LINE, "part_number"), ""), ((*LINE, "subscription_id"), "a/b"),
    ((*LINE, "customer_id"), "x" * 200), ((*LINE, "quantity"), "1,5"), ((*LINE, "unit_price"), []),
    ((*LINE, "days"), "thirty"), ((*LINE, "days"), 1.5), ((*LINE, "late"), "perhaps"), ((*LINE, "rule"), 3),
    ((*LINE, "explanation"), None),
]
GOOD = [
    ((*LINE, "unknown"), "ignored"), ((*LINE, "customer_id"), _DROP), ((*LINE, "unit_price"), None),
    ((*LINE, "amount"), 12.5), ((*LINE, "amount"), "12"), ((*LINE, "days"), "30"), ((*LINE, "late"), "true"),
    ((*LINE, "explanation"), _DROP), (("items", 0, "lines"), []),
]


def _id(case: tuple) -> str:
    path, value = case
    return f"{path[-1]}={value!r}"[:40]


@pytest.mark.parametrize("path,value", BAD, ids=[_id(c) for c in BAD])
def test_what_the_contract_refuses_the_lean_batch_refuses(path, value):
    payload = _mutated(path, value)
    with pytest.raises(ValidationError):
        AccountChargesRatedV2.model_validate(copy.deepcopy(payload))
    with pytest.raises(ValidationError):
        ChargesBatch.model_validate(payload)


@pytest.mark.parametrize("path,value", GOOD, ids=[_id(c) for c in GOOD])
def test_what_the_contract_accepts_the_lean_batch_accepts_alike(path, value):
    payload = _mutated(path, value)
    full, lean = AccountChargesRatedV2.model_validate(copy.deepcopy(payload)), ChargesBatch.model_validate(payload)
    for f, item in zip(full.items, lean.items):
        assert item.model_dump(exclude={"lines"}) == f.model_dump(exclude={"lines"})
        assert item.lines == [line.model_dump(exclude_unset=True, by_alias=False) for line in f.lines]


def test_field_names_are_accepted_for_the_aliases_as_the_contract_does():
    payload = _payload()
    line = payload["items"][0]["lines"][0]
    line["from_date"], line["to_date"] = line.pop("from"), line.pop("to")
    lean = ChargesBatch.model_validate(payload).items[0].lines[0]
    full = AccountChargesRatedV2.model_validate(payload).items[0].lines[0]
    assert isinstance(lean["from_date"], date)
    assert (lean["from_date"], lean["to_date"]) == (full.from_date, full.to_date)


def test_invoicing_decodes_both_versions_and_other_events_as_the_registry_does():
    batch = wire.charges_batches(_payload()["items"], [0], "rating", NOW, None)[0]
    envelope, lean = decode_lean(batch.encode())
    assert isinstance(lean, ChargesBatch) and [i.account_id for i in lean.items] == ["acme", "other"]
    assert all(isinstance(i.lines[0]["amount"], Decimal) for i in lean.items)
    [(own, item)] = accounts(envelope, lean, "invoice")
    assert isinstance(item, ChargesItem) and own.payload is envelope.payload["items"][0]
    one = wire.charges_envelope_checked("run-1", "2026-04", sample_rating(), "old-rating", NOW, None)
    _, upcast = decode_lean(one.encode())
    assert isinstance(upcast, ChargesBatch) and upcast.items[0].account_id == "acme"
    summary = wrap(BillingRunRatedV1(run_id="run-1", month="2026-04", accounts=1, lines=0, totals={}, rated_at=NOW),
                   key="2026-04", producer="rating", occurred_at=NOW)
    assert parse_lean(Envelope.decode(summary.encode())) == parse(summary)
