"""InvoiceIssuedV1 events encoded before their invoices have numbers, numbered after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID, uuid4

import orjson

from contracts.envelope import Envelope, build_envelope
from contracts.invoicing import InvoiceIssuedV1
from contracts.registry import type_of

_ISSUED = type_of(InvoiceIssuedV1)
# stands for the number in the encoded event: random, so no line text can hold it
_SLOT = f"invoice-number-{uuid4().hex}"
_SLOT_JSON = orjson.dumps(_SLOT)


class Unnumbered(NamedTuple):
    """One event's encoded envelope cut where its invoice number goes."""

    key: str
    event_id: UUID
    event_type: str
    head: bytes
    tail: bytes


def encode(payloads: Sequence[dict], causes: Sequence[Envelope], producer: str, now: datetime) -> list[Unnumbered]:
    """Build and encode the events of `payloads` (InvoiceIssuedV1's wire form from validated parts,
    `invoice_number` left out; not validated again: a test checks the shape), each caused by its
    charge. Issuing encodes them before it locks the issuers' counters: the two replicas
    serialise on the counter from the lock to the commit, so that time holds only what needs
    the numbers."""
    out = []
    for payload, cause in zip(payloads, causes):
        envelope = build_envelope(*_ISSUED, {"invoice_number": _SLOT, **payload}, key=payload["account_id"],
                                  producer=producer, occurred_at=now, cause=cause)
        head, _, tail = envelope.encode().partition(_SLOT_JSON)
        out.append(Unnumbered(envelope.key, envelope.event_id, envelope.type, head, tail))
    return out


def numbered(events: Sequence[Unnumbered], numbers: Sequence[str]) -> list[tuple[str, UUID, str, bytes]]:
    """The outbox rows (key, event id, type, encoded envelope) of `events` with their numbers in."""
    return [(e.key, e.event_id, e.event_type, b"".join((e.head, orjson.dumps(number), e.tail)))
            for e, number in zip(events, numbers)]
