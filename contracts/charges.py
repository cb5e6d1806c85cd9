"""Rated charges on the consumer side: a `rating.charges.rated` batch as its accounts' own events."""

from __future__ import annotations

from hashlib import sha1
from typing import Annotated, Any
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict  # pydantic reads typing's TypedDict only from 3.12

from contracts.envelope import Contract, Envelope, envelope_of
from contracts.rating import (
    CHARGES_BATCH_MAX, AccountChargesRatedV1, AccountChargesRatedV2, ChargeLineV1, PrepaidUsageRatedV1,
    PrepaidUsageRatedV2,
)
from contracts.registry import parse, type_of

_V1 = type_of(AccountChargesRatedV1)
_V2 = type_of(AccountChargesRatedV2)
_USAGE_V1 = type_of(PrepaidUsageRatedV1)
_USAGE_V2 = type_of(PrepaidUsageRatedV2)


def _fields_of(model: type[BaseModel]) -> Any:
    """`model`'s fields as a TypedDict checked alike: each field's type, constraints and alias,
    optional where the model has a default (left out then, not filled in), unknown keys ignored
    and field names accepted for aliases as the model does. Derived, so it cannot drift."""
    fields = {}
    for name, info in model.model_fields.items():
        checked = Annotated[(info.annotation, *info.metadata, Field(alias=info.alias))]
        fields[name] = checked if info.is_required() else NotRequired[checked]
    checked_dict = TypedDict(f"{model.__name__}Fields", fields)  # type: ignore[operator]
    checked_dict.__pydantic_config__ = ConfigDict(
        extra=model.model_config.get("extra"), populate_by_name=model.model_config.get("populate_by_name", False))
    return checked_dict


# A charge line validated as ChargeLineV1 is but kept as the dict of its values (keys are field
# names: `from_date`, not `from`): no model instance per line, and far fewer objects for the
# garbage collector to walk, which is most of what the instances cost (decoding a 250-account
# batch of 4 lines each and deriving its accounts, with the services' gc settings: 33 µs an
# account as AccountChargesRatedV2, 24 as ChargesBatch; with the collector off, 27 and 25)
ChargeLineFields = _fields_of(ChargeLineV1)


class ChargesItem(AccountChargesRatedV1):
    """`AccountChargesRatedV1` with its lines as checked dicts (`ChargeLineFields`): the same
    input accepted and refused (tests/unit/test_charges_lean.py), for a consumer that reads a
    line's values only (invoicing sums their amounts and stores the lines as they came)."""

    lines: list[ChargeLineFields]  # type: ignore[assignment,valid-type]


class ChargesBatch(AccountChargesRatedV2):
    """`AccountChargesRatedV2` of `ChargesItem`s: validate as this with `parse_lean`."""

    items: list[ChargesItem] = Field(min_length=1, max_length=CHARGES_BATCH_MAX)


_LEAN = {AccountChargesRatedV2: ChargesBatch}


def parse_lean(envelope: Envelope) -> Contract:
    """`registry.parse`, a batch of charges (version 2, or 1 upcast) as a `ChargesBatch`."""
    return parse(envelope, _LEAN)


def decode_lean(raw: bytes) -> tuple[Envelope, Contract]:
    """A `rating.charges` record's value as (envelope, `parse_lean` payload): a topic's decoder."""
    envelope = Envelope.decode(raw)
    return envelope, parse_lean(envelope)


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
    ids = _derived_ids(envelope.event_id, [item.account_id for item, _ in pairs])
    return [(_item_event(envelope, event_id, _V1[1], item.account_id, wire), item)
            for event_id, (item, wire) in zip(ids, pairs)]


def _item_event(batch: Envelope, event_id: UUID, schema_version: int, key: str, payload: dict) -> Envelope:
    """One item of `batch` as its own event of the batch's type at `schema_version`: instant,
    producer and correlation the batch's, caused by the batch."""
    return envelope_of(event_id=event_id, type=batch.type, schema_version=schema_version,
                       occurred_at=batch.occurred_at, producer=batch.producer, key=key,
                       correlation_id=batch.correlation_id, causation_id=batch.event_id, payload=payload)


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


def usage_item(envelope: Envelope, index: int) -> Envelope:
    """Item `index` of a `PrepaidUsageRatedV2` batch as its own version-1 event, for a consumer
    that keeps one account's item apart from the batch (prepaid_credit's charges waiting for an
    account not opened yet): its id is derived from the batch's id, the account and the midnight
    (an account has one item per midnight), so every delivery of the batch derives the same one;
    its payload is the item as it came on the wire. A version-1 event stands for itself."""
    if envelope.schema_version < _USAGE_V2[1]:
        return envelope
    wire = envelope.payload["items"][index]
    return _item_event(envelope, uuid5(envelope.event_id, f"{wire['account_id']}@{wire['at']}"), _USAGE_V1[1],
                       wire["account_id"], wire)
