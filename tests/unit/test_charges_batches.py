"""A run's charges in batches (`rating.charges.rated` v2): the plain-JSON batch equals the validated
contract, one event per partition with each account on its own key's partition, the size bound,
and the consumers' expansion (deterministic derived ids, version 1 read as a batch of one)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4, uuid5

import pytest
from pydantic import ValidationError

from contracts import wrap
from contracts.charges import accounts, expand
from contracts.envelope import Envelope
from contracts.rating import CHARGES_BATCH_MAX, AccountChargesRatedV1, AccountChargesRatedV2, BillingRunRatedV1
from contracts.registry import parse
from services.rating import wire
from shared import metrics
from shared.outbox import partition_of
from tests.support.rating import sample_rating as _rating

NOW = datetime(2026, 4, 1, 6, tzinfo=timezone.utc)
PARTS = list(range(8))


def _items(n: int, prefix: str = "acct") -> list[dict]:
    base = wire.charges_item("run-1", "2026-04", _rating())
    return [dict(base, account_id=f"{prefix}-{i}") for i in range(n)]


def _decoded(e: Envelope) -> tuple[Envelope, AccountChargesRatedV2]:
    back = Envelope.decode(e.encode())
    return back, parse(back)


@pytest.mark.parametrize("run_at", [None, NOW])
def test_the_plain_json_batch_equals_the_validated_contract(run_at):
    correlation, rating = uuid4(), _rating()
    item = wire.charges_item("run-1", "2026-04", rating, run_at)
    fast = wire.charges_batches([item], PARTS, "rating", NOW, correlation)[0]
    checked = wrap(AccountChargesRatedV2(items=[wire.charges_item_checked("run-1", "2026-04", rating, run_at)]),
                   key="acme", producer="rating", occurred_at=NOW, correlation_id=correlation)
    fast_wire, checked_wire = Envelope.decode(fast.encode()), Envelope.decode(checked.encode())
    assert parse(fast_wire) == parse(checked_wire)
    assert (fast.type, fast.schema_version) == ("rating.charges.rated", 2)
    if run_at is None:  # the same JSON (an instant is written +00:00 here, Z by pydantic: both read alike)
        assert fast_wire.model_dump(exclude={"event_id"}) == checked_wire.model_dump(exclude={"event_id"})


def test_one_event_per_partition_keyed_where_its_accounts_go():
    items = _items(600)
    envelopes = wire.charges_batches(items, PARTS, "rating", NOW, None)
    homes = [partition_of(e.key.encode(), PARTS) for e in envelopes]
    assert sorted(set(homes)) == sorted({partition_of(i["account_id"].encode(), PARTS) for i in items})
    seen = []
    for e, home in zip(envelopes, homes):
        _, batch = _decoded(e)
        assert e.key == batch.items[0].account_id
        assert {partition_of(i.account_id.encode(), PARTS) for i in batch.items} == {home}
        seen += [i.account_id for i in batch.items]
    assert sorted(seen) == sorted(i["account_id"] for i in items)


def test_a_batch_is_bounded_by_accounts_and_lines():
    items = _items(wire.CHARGES_BATCH_ITEMS * 2 + 3)
    sizes = [len(e.payload["items"]) for e in wire.charges_batches(items, [0], "rating", NOW, None)]
    lines = len(items[0]["lines"])
    per_event = min(wire.CHARGES_BATCH_ITEMS, wire.CHARGES_BATCH_LINES // lines)
    assert max(sizes) == per_event and sum(sizes) == len(items)
    # an account with more lines than an event holds goes alone
    big = dict(items[0], account_id="big", lines=items[0]["lines"] * (wire.CHARGES_BATCH_LINES // lines + 1))
    alone = wire.charges_batches([items[1], big, items[2]], [0], "rating", NOW, None)
    assert [[i["account_id"] for i in e.payload["items"]] for e in alone] == [["acct-1"], ["big"], ["acct-2"]]
    # a full event stays well under Kafka's 1 MB default message size
    full = wire.charges_batches(_items(wire.CHARGES_BATCH_ITEMS), [0], "rating", NOW, None)[0]
    assert len(full.encode()) < 700_000
    assert wire.CHARGES_BATCH_ITEMS <= CHARGES_BATCH_MAX


def test_the_contract_refuses_an_empty_or_oversized_batch():
    item = wire.charges_item_checked("run-1", "2026-04", _rating())
    for items in ([], [item] * (CHARGES_BATCH_MAX + 1)):
        with pytest.raises(ValidationError):
            AccountChargesRatedV2(items=items)


def test_each_account_becomes_its_own_event_with_a_derived_id():
    correlation = uuid4()
    e = wire.charges_batches(_items(3), [0], "rating", NOW, correlation)[0]
    envelope, batch = _decoded(e)
    derived = accounts(envelope, batch)
    assert [p.account_id for _, p in derived] == ["acct-0", "acct-1", "acct-2"]
    for (d, p), raw in zip(derived, envelope.payload["items"]):
        assert isinstance(p, AccountChargesRatedV1)
        assert d.event_id == uuid5(e.event_id, p.account_id) and d.key == p.account_id
        assert (d.type, d.schema_version) == ("rating.charges.rated", 1)
        assert (d.occurred_at, d.producer, d.correlation_id, d.causation_id) == (NOW, "rating", correlation, e.event_id)
        assert d.payload is raw  # the lines as rating sent them
        # what invoicing parks or quarantines decodes to the same charges
        stored = Envelope.decode(d.encode())
        assert stored.event_id == d.event_id and accounts(stored, parse(stored)) == [(stored, p)]
    # a redelivery or a replay derives the same ids
    again = accounts(*_decoded(e))
    assert [d.event_id for d, _ in again] == [d.event_id for d, _ in derived]


def test_version_1_is_a_batch_of_one_standing_for_itself():
    one = wire.charges_envelope_checked("run-1", "2026-04", _rating(), "old-rating", NOW, None)
    envelope = Envelope.decode(one.encode())
    batch = parse(envelope)
    assert isinstance(batch, AccountChargesRatedV2) and len(batch.items) == 1
    assert accounts(envelope, batch) == [(envelope, parse(Envelope.decode(one.encode())).items[0])]
    assert accounts(envelope, batch)[0][0].event_id == one.event_id


def test_expand_keeps_other_events_in_order():
    summary = wrap(BillingRunRatedV1(run_id="run-1", month="2026-04", accounts=2, lines=0, totals={},
                                     rated_at=NOW), key="2026-04", producer="rating", occurred_at=NOW)
    e = wire.charges_batches(_items(2), [0], "rating", NOW, None)[0]
    out = expand([_decoded(e), (summary, parse(summary))])
    assert [type(p).__name__ for _, p in out] == ["AccountChargesRatedV1", "AccountChargesRatedV1",
                                                  "BillingRunRatedV1"]


def test_the_relay_counts_the_accounts_of_a_batch():
    e = wire.charges_batches(_items(7), [0], "rating", NOW, None)[0]
    assert metrics.items_in("rating.charges.rated", e.encode()) == 7
    one = wire.charges_envelope("run-1", "2026-04", _rating(), "rating", NOW, None)
    assert metrics.items_in("rating.charges.rated", one.encode()) == 1


def test_a_consumer_derives_only_the_accounts_it_settles():
    items = _items(3)
    items[1] = dict(items[1], settlement="prepaid", run_at=NOW.isoformat())
    envelope, batch = _decoded(wire.charges_batches(items, [0], "rating", NOW, None)[0])
    assert [p.account_id for _, p in accounts(envelope, batch, "prepaid")] == ["acct-1"]
    assert [p.account_id for _, p in expand([(envelope, batch)], "invoice")] == ["acct-0", "acct-2"]
    assert accounts(envelope, batch, "prepaid")[0][0].event_id == uuid5(envelope.event_id, "acct-1")
    one = Envelope.decode(wire.charges_envelope("run-1", "2026-04", _rating(), "rating", NOW, None).encode())
    assert accounts(one, parse(one), "prepaid") == [] and len(accounts(one, parse(one), "invoice")) == 1
