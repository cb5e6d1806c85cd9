"""Events and commands of the rating service: billing-run requests, rated charges, run summaries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from contracts.envelope import Contract
from contracts.registry import event, upcaster
from contracts.types import Currency, Id, Instant, Month, Name, PaymentTerms, TimeZone


@event("rating.run.request", 1)
class RequestBillingRunV1(Contract):
    """Command: rate month `month` (YYYY-MM) for every account not yet rated for it whose
    metering point of that month is at or before `requested_at` (all of them, or only those in
    `account_ids`). Each account is rated once per month, however often this is requested:
    a repeated request publishes nothing new but an empty summary.
    """

    run_id: Id
    month: Month
    requested_at: Instant
    requested_by: Name = "operator"
    account_ids: list[Id] | None = Field(default=None, max_length=100_000)


class ChargeLineV1(Contract):
    """One rated line, explained: what, how many, at which price and version, over which days."""

    subscription_id: Id | None = None
    part_number: Id
    product_name: str = ""
    from_date: date = Field(alias="from")
    to_date: date = Field(alias="to")
    quantity: Decimal
    unit_price: Decimal | None = None  # None when usage tiers priced the line (see explanation)
    price_version: str = ""
    amount: Decimal
    days: int | None = None
    month_days: int | None = None
    rule: str = ""
    late: bool = False
    explanation: str = ""
    customer_id: Id | None = None  # the reseller's customer a feature is for; None for the account's own

    model_config = Contract.model_config | {"populate_by_name": True, "serialize_by_alias": True}


@event("rating.charges.rated", 1)
class AccountChargesRatedV1(Contract):
    """The charges of one account for one run, tagged for settlement by the account's mode:
    `invoice` (subscription accounts) or `prepaid` (credit debits)."""

    run_id: Id
    month: Month
    account_id: Id
    currency: Currency
    settlement: Literal["invoice", "prepaid"]
    payment_terms_days: PaymentTerms = 30
    time_zone: TimeZone = "UTC"
    lines: list[ChargeLineV1]
    total: Decimal
    # additive: the run's requested instant (prepaid_credit dates a run's debits by it)
    run_at: Instant | None = None


# accounts in one `AccountChargesRatedV2` at most. A run's account is a few lines (about 0.4 kB
# each on the wire): rating fills an event with up to CHARGES_BATCH_ITEMS accounts and
# CHARGES_BATCH_LINES lines (services/rating/wire.py), about half a megabyte at most, well under
# Kafka's 1 MB default message size; this bound leaves room for producers batching otherwise
CHARGES_BATCH_MAX = 1000


@event("rating.charges.rated", 2)
class AccountChargesRatedV2(Contract):
    """The charges of many accounts of one run, one item each (the fields of
    `AccountChargesRatedV1`): rating publishes a chunk's accounts whose own keys fall on one
    partition of `rating.charges` in one event, keyed by the first of them, so each account's
    charges keep their order there with its other events. Consumers take each item as the
    account's own event (`contracts.charges.accounts`: its id derived from the batch's id and
    the account). Version 1 (one account) is read as a batch of one."""

    items: list[AccountChargesRatedV1] = Field(min_length=1, max_length=CHARGES_BATCH_MAX)


@upcaster("rating.charges.rated", 1)
def _charges_v1_to_v2(payload: dict) -> dict:
    return {"items": [payload]}


class QuarantinedAccountV1(Contract):
    """An account a run set aside because rating it failed: `reason` is a short code (the
    failure's kind), `error` the text an operator reads. The account stays unrated for the month
    until a later run (an operator's re-rate) rates it."""

    account_id: str
    reason: str
    error: str = ""


QUARANTINE_LISTED = 1000  # accounts named in a summary: keeps the message well under 1 MB


@event("rating.run.rated", 1)
class BillingRunRatedV1(Contract):
    """Summary of a run, for downstream reconciliation: how many accounts got charges, how many
    lines, and the totals per settlement and currency (`{"invoice": {"USD": "12.00"}}`).

    Additive since the first release: `quarantined_accounts` counts the accounts set aside (not
    rated, not in the counts and totals), `quarantined` names the first `QUARANTINE_LISTED` of
    them with their reasons, and `failure` says why a run rated nothing at all (a month that
    cannot be rated)."""

    run_id: Id
    month: Month
    accounts: int
    lines: int
    totals: dict[str, dict[str, Decimal]]
    invoice_accounts: int = 0
    prepaid_accounts: int = 0
    rated_at: Instant
    quarantined_accounts: int = 0
    quarantined: list[QuarantinedAccountV1] = []
    failure: str | None = None


@event("rating.prepaid_usage.rated", 1)
class PrepaidUsageRatedV1(Contract):
    """A prepaid account's usage debit at one local midnight `at`: the usage records that arrived
    before `at` and were not debited yet, priced with the pricing core (one line per product and
    month of use, in order of month then part number; tiers continue within the month of use).
    Rating publishes one for every prepaid account and every local midnight, `lines` empty when
    there was no usage: prepaid_credit takes it as the account's usage watermark, so expiries and
    run debits at `at` wait for it (section 8's order of steps)."""

    account_id: Id
    currency: Currency
    time_zone: TimeZone = "UTC"
    at: Instant
    lines: list[ChargeLineV1] = Field(default=[], max_length=10_000)
    total: Decimal
    records: int = 0


class PrepaidUsageItemV1(Contract):
    """One account's usage debit at one local midnight `at` inside a `PrepaidUsageRatedV2`: the
    fields of `PrepaidUsageRatedV1`. Its idempotency key is (`account_id`, `at`): prepaid_credit
    applies an account's midnight once, in whichever event or batch it comes again."""

    account_id: Id
    currency: Currency
    time_zone: TimeZone = "UTC"
    at: Instant
    lines: list[ChargeLineV1] = Field(default=[], max_length=10_000)
    total: Decimal
    records: int = 0


@event("rating.prepaid_usage.rated", 2)
class PrepaidUsageRatedV2(Contract):
    """Prepaid accounts' usage debits, one item per account and local midnight (section 8), many
    accounts in one event: rating publishes a batch of a midnight task's accounts whose own keys
    fall on one partition of `rating.charges`, keyed by one of them, so each account's items keep
    their order there with its other events. Version 1 (one account, one midnight) is read as a
    batch of one."""

    items: list[PrepaidUsageItemV1] = Field(max_length=10_000)


@upcaster("rating.prepaid_usage.rated", 1)
def _prepaid_usage_v1_to_v2(payload: dict) -> dict:
    return {"items": [payload]}
