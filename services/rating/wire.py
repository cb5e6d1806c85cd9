"""Rating's hot wire paths: a run's rated charges as `AccountChargesRatedV2` batches (one item per
account), and a usage record's envelope decoded in one validating pass.

A run publishes one item per account, so `charges_item` builds it as plain JSON values (its
lines as JSON text already, orjson Fragments) and `charges_batches` wraps them without pydantic
validation. The result is the same as the validated contract (`charges_item_checked`); unit
tests hold them equal.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from uuid import UUID

import orjson

from contracts import build_envelope, wrap
from contracts.envelope import Contract, Envelope
from contracts.rating import AccountChargesRatedV1, AccountChargesRatedV2, ChargeLineV1
from contracts.registry import parse, type_of
from contracts.usage import UsageRecordedV1
from services.rating.domain import AccountRating
from services.rating.pricing.lines import explanation_around
from shared.outbox import by_partition

_CHARGES = type_of(AccountChargesRatedV1)  # (type, schema version)
_BATCH = type_of(AccountChargesRatedV2)
_USAGE = type_of(UsageRecordedV1)

# one event's accounts and lines at most: a line is about 0.4 kB on the wire, so an event stays
# near half a megabyte at most, well under Kafka's 1 MB default message size (an account with
# more lines goes alone, as it did in version 1); 250 is a run chunk's (2,000 accounts) share of
# one of the topic's 8 partitions, so a chunk makes about one event per partition
CHARGES_BATCH_ITEMS = 250
CHARGES_BATCH_LINES = 1000


_iso = lru_cache(maxsize=4096)(date.isoformat)  # a run repeats the same few dates many times


def _decimal(value) -> str | None:
    return None if value is None else str(value)


_dumps, _Fragment = orjson.dumps, orjson.Fragment


def line_json(line) -> orjson.Fragment:
    """One pricing `ChargeLine` in the ChargeLineV1 wire shape, as its JSON text (an orjson
    Fragment, written into the event as it is). Lines of one shape (product, period, quantity,
    price, amount, rule) differ only in their subscription and customer: the shape's text is
    built once, its explanation cut around the subscription id, and each line puts its own ids
    in. The same bytes as dumping the line's dict, for about 5 us less per account of seven lines
    (dict built, then dumped: 25 -> 20 us per account for a run chunk's items and events)."""
    quantity, unit_price, amount = str(line.quantity), _decimal(line.unit_price), str(line.amount)
    sid = line.subscription
    head, tail = _shape(line.part_number, line.rule, line.from_date, line.to_date, quantity, unit_price,
                        line.price_version, amount, line.days, line.month_days, line.late, line.note, sid is None,
                        line.product_name)
    customer = b"null}" if line.customer is None else _dumps(line.customer) + b"}"
    if sid is None:
        return _Fragment(head + customer)
    sid_json = _dumps(sid)
    # JSON escapes character by character, so the id's escaped text (without its quotes) goes
    # into the explanation's escaped text as it is
    return _Fragment(b"".join((b'{"subscription_id":', sid_json, head, sid_json[1:-1], tail, customer)))


@lru_cache(maxsize=65536)
def _shape(part_number, rule, from_date, to_date, quantity, unit_price, price_version, amount, days, month_days,
           late, note, usage, product_name) -> tuple[bytes, bytes]:
    """A line shape's JSON text around its ids: a usage line's (no subscription) up to its
    customer id; else from the subscription id to the explanation's, and from there to the
    customer id. Numbers come as their text (12 and 12.00 are different shapes)."""
    before, after = explanation_around(part_number, rule, from_date, to_date, quantity, str(unit_price),
                                       price_version, amount, days, month_days, note, usage)
    fields = _dumps({"part_number": part_number, "product_name": product_name, "from": _iso(from_date),
                     "to": _iso(to_date), "quantity": quantity, "unit_price": unit_price,
                     "price_version": price_version, "amount": amount, "days": days, "month_days": month_days,
                     "rule": rule, "late": late})[1:-1]  # the fields without the braces
    if usage:
        return b'{"subscription_id":null,' + fields + b',"explanation":' + _dumps(before) + b',"customer_id":', b""
    return b"," + fields + b',"explanation":' + _dumps(before)[:-1], _dumps(after)[1:] + b',"customer_id":'


def charges_item(run_id: str, month: str, r: AccountRating, run_at: datetime | None = None) -> dict:
    """One account's rated charges in the AccountChargesRatedV1 wire shape (an item of a batch)."""
    res = r.result
    return {
        "run_id": run_id, "month": month, "account_id": r.account_id, "currency": r.currency,
        "settlement": r.settlement, "payment_terms_days": r.payment_terms_days, "time_zone": r.time_zone,
        "lines": [line_json(x) for x in res.lines], "total": str(res.total),
        "run_at": None if run_at is None else run_at.isoformat(),
    }


def charges_batches(items: list[dict], partitions: list[int], producer: str, now: datetime,
                    correlation_id: UUID | None) -> list[Envelope]:
    """The items (`charges_item`) as AccountChargesRatedV2 envelopes: one per partition their
    accounts' keys fall on (split at CHARGES_BATCH_ITEMS items or CHARGES_BATCH_LINES lines),
    keyed by the first of its accounts, so Kafka puts each event where its accounts' own events
    go. Built as plain JSON, not validated again (tests/unit check it against the contract); their
    lines are JSON text, so they are for `encode()` (the outbox), which a consumer decodes."""
    out = []
    for group in by_partition(items, partitions):
        part: list[dict] = []
        lines = 0
        for item in group:
            n = len(item["lines"])
            if part and (len(part) == CHARGES_BATCH_ITEMS or lines + n > CHARGES_BATCH_LINES):
                out.append(_batch(part, producer, now, correlation_id))
                part, lines = [], 0
            part.append(item)
            lines += n
        out.append(_batch(part, producer, now, correlation_id))
    return out


def _batch(items: list[dict], producer: str, now: datetime, correlation_id: UUID | None) -> Envelope:
    return build_envelope(*_BATCH, {"items": items}, key=items[0]["account_id"], producer=producer,
                          occurred_at=now, correlation_id=correlation_id)


def charges_envelope(run_id: str, month: str, r: AccountRating, producer: str, now: datetime,
                     correlation_id: UUID | None, run_at: datetime | None = None) -> Envelope:
    """One account's charges as a version-1 envelope (`billing bench rating --wire`), for `encode()`
    (its lines are JSON text, as in `charges_batches`)."""
    return build_envelope(*_CHARGES, charges_item(run_id, month, r, run_at), key=r.account_id, producer=producer,
                          occurred_at=now, correlation_id=correlation_id)


def charges_item_checked(run_id: str, month: str, r: AccountRating,
                         run_at: datetime | None = None) -> AccountChargesRatedV1:
    """The same item through the validated contract (for tests and as the reference)."""
    res = r.result
    lines = [ChargeLineV1(
        subscription_id=x.subscription, part_number=x.part_number, from_date=x.from_date,
        to_date=x.to_date, quantity=x.quantity, unit_price=x.unit_price, price_version=x.price_version,
        amount=x.amount, days=x.days, month_days=x.month_days, rule=x.rule, late=x.late,
        explanation=x.explanation, product_name=x.product_name, customer_id=x.customer) for x in res.lines]
    return AccountChargesRatedV1(
        run_id=run_id, month=month, account_id=r.account_id, currency=r.currency, settlement=r.settlement,
        payment_terms_days=r.payment_terms_days, time_zone=r.time_zone, lines=lines, total=res.total, run_at=run_at)


def charges_envelope_checked(run_id: str, month: str, r: AccountRating, producer: str, now: datetime,
                             correlation_id: UUID | None, run_at: datetime | None = None) -> Envelope:
    """`charges_envelope` through the validated contract."""
    return wrap(charges_item_checked(run_id, month, r, run_at), key=r.account_id, producer=producer,
                occurred_at=now, correlation_id=correlation_id)


class UsageEnvelope(Envelope):
    """A usage record's envelope with its payload validated as the latest `UsageRecordedV1` in
    the same pass. It stands for the envelope on rating's usage path (handlers read its ids and
    instants; a record held in pending facts is stored as `encode()`)."""

    payload: UsageRecordedV1  # type: ignore[assignment]

    def encode(self) -> bytes:
        return Envelope(**dict(self.__dict__, payload=self.payload.model_dump(mode="json"))).encode()


def decode_usage(raw: bytes) -> tuple[Envelope, Contract]:
    """A usage.records value as (envelope, record), validated as `Envelope.decode` and `parse`
    would, in one pydantic pass over the JSON text instead of orjson, the envelope's pass and the
    payload's. Anything else on the topic (an older version, another type, an invalid value)
    takes the general path, which upcasts it or raises the error a dead letter records."""
    try:
        checked = UsageEnvelope.model_validate_json(raw)
    except ValueError:
        checked = None
    if checked is None or (checked.type, checked.schema_version) != _USAGE:
        envelope = Envelope.decode(raw)
        return envelope, parse(envelope)
    return checked, checked.payload
