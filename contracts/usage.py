"""Usage records (call detail records) published by the communication platforms."""

from __future__ import annotations

from contracts.envelope import Contract
from contracts.registry import event
from contracts.types import Id, Instant, UsageQuantity


@event("usage.recorded", 1)
class UsageRecordedV1(Contract):
    """One usage record: `quantity` units of `part_number` used at `used_at` by `account_id`.

    `record_id` is unique across the platform: a record with a known id is ignored, however
    often it arrives. `received_at` is when the platform received it (default: the envelope's
    occurrence instant); usage received at or after the metering point that would have billed
    it is late.
    """

    record_id: Id
    account_id: Id
    part_number: Id
    quantity: UsageQuantity
    used_at: Instant
    received_at: Instant | None = None
