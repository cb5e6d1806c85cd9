"""Rating's batched daily usage debits: one event per partition, each account's items on its own
key's partition, the plain-JSON payloads valid against the contract, version 1 read as a batch of one."""

from __future__ import annotations

from datetime import datetime, timezone

from contracts import wrap
from contracts.envelope import Envelope
from contracts.rating import PrepaidUsageItemV1, PrepaidUsageRatedV1, PrepaidUsageRatedV2
from contracts.registry import parse
from services.rating import prepaid
from shared.outbox import partition_of

NOW = datetime(2026, 3, 2, 1, tzinfo=timezone.utc)
LINE = {"subscription_id": None, "part_number": "FAX-PAGE-OUT", "product_name": "Fax", "from": "2026-03-01",
        "to": "2026-04-01", "quantity": "20", "unit_price": "0.05", "price_version": "v1", "amount": "1.00",
        "days": None, "month_days": None, "rule": "usage", "late": False, "explanation": "20 x 0.05 = 1.00",
        "customer_id": None}


def item(account: str, day: int, lines=(LINE,)) -> dict:
    return {"account_id": account, "currency": "USD", "time_zone": "UTC",
            "at": datetime(2026, 3, day, tzinfo=timezone.utc).isoformat(), "lines": list(lines),
            "total": "1.00" if lines else "0.00", "records": len(lines)}


def test_one_event_per_partition_keyed_where_its_accounts_go():
    parts = list(range(8))
    items = [item(f"acct-{n}", day) for n in range(300) for day in (1, 2)]
    envelopes = prepaid.batches(items, parts, "rating", NOW)
    assert len(envelopes) == len({partition_of(i["account_id"].encode(), parts) for i in items})
    seen = []
    for e in envelopes:
        batch = parse(Envelope.decode(e.encode()))
        assert isinstance(batch, PrepaidUsageRatedV2) and e.schema_version == 2
        home = partition_of(e.key.encode(), parts)
        assert {partition_of(i.account_id.encode(), parts) for i in batch.items} == {home}
        seen += [(i.account_id, i.at) for i in batch.items]
    assert sorted(seen) == sorted((i["account_id"], datetime.fromisoformat(i["at"])) for i in items)
    # an account's midnights keep their order within its event
    first = [i for i in parse(envelopes[0]).items if i.account_id == parse(envelopes[0]).items[0].account_id]
    assert [i.at.day for i in first] == [1, 2]


def test_a_large_batch_is_split():
    items = [item(f"a{n}", 1, ()) for n in range(prepaid.BATCH_ITEMS * 2 + 5)]
    envelopes = prepaid.batches(items, [0], "rating", NOW)
    assert [len(e.payload["items"]) for e in envelopes] == [prepaid.BATCH_ITEMS, prepaid.BATCH_ITEMS, 5]


def test_version_1_is_a_batch_of_one():
    v1 = PrepaidUsageRatedV1(account_id="acct", currency="USD", at=NOW, total="0.00")
    parsed = parse(Envelope.decode(wrap(v1, key="acct", producer="old-rating", occurred_at=NOW).encode()))
    assert isinstance(parsed, PrepaidUsageRatedV2)
    assert parsed.items == [PrepaidUsageItemV1(account_id="acct", currency="USD", at=NOW, total="0.00")]
