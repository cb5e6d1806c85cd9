"""prepaid_credit's notices: a transaction's debits in one event per partition, in order with each
account's other notices on that partition."""

from __future__ import annotations

from datetime import datetime, timezone

from contracts.registry import parse
from services.prepaid_credit import ledger
from shared.outbox import partition_of
from shared.settings import Settings

AT = datetime(2026, 3, 2, tzinfo=timezone.utc)
PARTS = list(range(8))


def debit(account: str, seq: int) -> dict:
    return {"account_id": account, "kind": "usage", "ref": f"usage:{seq}", "part_number": "FAX", "amount": "1.00",
            "shortfall": "0.00", "balance": "9.00", "sequence": seq, "at": AT.isoformat()}


def test_debits_batch_per_partition_and_another_notice_closes_the_batch():
    book = ledger.Book(Settings(service="prepaid_credit"), partitions=PARTS)
    accounts = [f"acct-{n}" for n in range(40)]
    for a in accounts:
        book._notice("prepaid_credit.credit.debited", a, AT, debit(a, 2))
    low = accounts[0]
    book._notice("prepaid_credit.balance.low", low, AT,
                 {"account_id": low, "balance": "9.00", "threshold": "10.00", "at": AT.isoformat()})
    book._notice("prepaid_credit.credit.debited", low, AT, debit(low, 3))
    home = partition_of(low.encode(), PARTS)
    on_home = [e for e in book.events if partition_of(e.key.encode(), PARTS) == home]
    # the first debits, the low-balance notice, then a new event with the later debit
    assert [e.type for e in on_home] == ["prepaid_credit.credit.debited", "prepaid_credit.balance.low",
                                         "prepaid_credit.credit.debited"]
    assert [d["sequence"] for d in on_home[2].payload["debits"]] == [3]
    debited = [e for e in book.events if e.type == "prepaid_credit.credit.debited"]
    assert len(debited) == len({partition_of(a.encode(), PARTS) for a in accounts}) + 1
    for e in debited:  # every debit on its account's partition, the payload valid
        assert e.schema_version == 2
        assert {partition_of(d["account_id"].encode(), PARTS) for d in e.payload["debits"]} == {
            partition_of(e.key.encode(), PARTS)}
        parse(e)
    assert sum(len(e.payload["debits"]) for e in debited) == 41
