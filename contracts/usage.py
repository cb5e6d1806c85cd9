"""Usage records (call detail records) published by the communication platforms."""

from __future__ import annotations

from contracts.envelope import Contract
from contracts.registry import event
from contracts.types import Id, Instant, PhoneNumber, UsageDirection, UsageGroup, UsageQuantity


@event("usage.recorded", 1)
class UsageRecordedV1(Contract):
    """One usage record: `quantity` units of `part_number` used at `used_at` by `account_id`.

    `record_id` is unique across the platform: a record with a known id is ignored, however
    often it arrives. `received_at` is when the platform received it (default: the envelope's
    occurrence instant); usage received at or after the metering point that would have billed
    it is late.

    Optional dimensions for usage reports (absent in older records, never used for pricing):
    `direction` (`inbound` or `outbound`), the user's `group`, the `user` id, and the account's
    own fax or telephone `number` the record used (the number that received inbound pages, the
    one that sent outbound pages).
    """

    record_id: Id
    account_id: Id
    part_number: Id
    quantity: UsageQuantity
    used_at: Instant
    received_at: Instant | None = None
    direction: UsageDirection | None = None
    group: UsageGroup | None = None
    user: Id | None = None
    number: PhoneNumber | None = None
