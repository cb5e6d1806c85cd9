"""Usage records (call detail records) published by the communication platforms."""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract
from contracts.registry import event


@event("usage.recorded", 1)
class UsageRecordedV1(Contract):
    """One usage record: `quantity` units of `part_number` used at `used_at` by `account_id`.

    `record_id` is unique across the platform: a record with a known id is ignored, however
    often it arrives. `received_at` is when the platform received it (default: the envelope's
    occurrence instant); usage received at or after the metering point that would have billed
    it is late.
    """

    record_id: str = Field(min_length=1)
    account_id: str
    part_number: str
    quantity: Decimal = Field(gt=0)
    used_at: AwareDatetime
    received_at: AwareDatetime | None = None
