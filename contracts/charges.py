"""Rated charges on the consumer side: a `rating.charges.rated` batch as its accounts' own events."""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID

from contracts.envelope import Contract, Envelope
from contracts.rating import AccountChargesRatedV1, AccountChargesRatedV2
from contracts.registry import type_of

_V1 = type_of(AccountChargesRatedV1)
_V2 = type_of(AccountChargesRatedV2)


def _derived_ids(batch_id: UUID, account_ids: list[str]) -> list[UUID]:
    """`uuid5(batch_id, account_id)` for each account, the namespace's bytes taken once: the
    standard library's uuid5 computes them and imports hashlib on every call (4.0 µs an id, 2.3
    here: 1.7 µs an invoice; tests/unit/test_charges_batches.py checks them against uuid5)."""
    prefix = batch_id.bytes
    return [UUID(bytes=sha1(prefix + account.encode()).digest()[:16], version=5) for account in account_ids]


def accounts(envelope: Envelope, batch: AccountChargesRatedV2,
             settlement: str | None = None) -> list[tuple[Envelope, AccountChargesRatedV1]]:
    """Each account of a batch as (its own envelope, its charges), in the batch's order; with
    `settlement`, only the accounts settled so (a consumer derives no envelope it ignores).

    The account's envelope is a version-1 `rating.charges.rated` one: its id is derived from the
    batch's id and the account (uuid5), so a redelivery or a replay derives the same ids (an
    invoice's source event, a quarantined or parked charge stay one); key the account; instant,
    producer and correlation the batch's; caused by the batch. Its payload is the item as it came
    on the wire (invoicing stores the lines as they are). A version-1 event (read as a batch of
    one) stands for itself, with its own id, as before there were batches."""
    if envelope.schema_version < _V2[1]:
        return [(envelope, item) for item in batch.items if settlement in (None, item.settlement)]
    pairs = [(item, wire) for item, wire in zip(batch.items, envelope.payload["items"])
             if settlement in (None, item.settlement)]
    batch_id = envelope.event_id
    template = Envelope.model_construct(
        event_id=batch_id, type=_V1[0], schema_version=_V1[1], occurred_at=envelope.occurred_at,
        producer=envelope.producer, key=envelope.key, correlation_id=envelope.correlation_id,
        causation_id=batch_id, payload={})
    ids = _derived_ids(batch_id, [item.account_id for item, _ in pairs])
    return [(template.model_copy(update={"event_id": event_id, "key": item.account_id, "payload": wire}), item)
            for event_id, (item, wire) in zip(ids, pairs)]


def expand(batch: list[tuple[Envelope, Contract]], settlement: str | None = None) -> list[tuple[Envelope, Contract]]:
    """A consumed batch with each `AccountChargesRatedV2` replaced by its accounts (`accounts`, of
    `settlement` only when given), everything else as it is, in order."""
    out: list[tuple[Envelope, Contract]] = []
    for e, p in batch:
        if isinstance(p, AccountChargesRatedV2):
            out += accounts(e, p, settlement)
        else:
            out.append((e, p))
    return out
