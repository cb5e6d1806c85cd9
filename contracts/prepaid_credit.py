"""Notices of the prepaid_credit service: redemptions, debits, expiries, low balance, exhaustion."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from contracts.envelope import Contract
from contracts.registry import event, upcaster
from contracts.types import Id, Instant, Name


@event("prepaid_credit.voucher.redeemed", 1)
class VoucherRedeemedV1(Contract):
    """A prepaid account redeemed a voucher: a lot (named by the voucher's code) of `credits`
    expiring at `expires_at`; `settled` of them went at once to a shortfall recorded before;
    `balance` after both."""

    account_id: Id
    voucher: Name
    lot: Name
    credits: Decimal
    expires_at: Instant
    settled: Decimal = Decimal("0.00")
    balance: Decimal
    at: Instant


@event("prepaid_credit.credit.debited", 1)
class CreditDebitedV1(Contract):
    """Credits debited for a `usage` line (a product and month of use at a local midnight) or a
    `recurring` line (a run's piece), named by `ref`: `amount` charged, of which `shortfall` could
    not be drawn; `balance` after it; `sequence` its number in the account's ledger."""

    account_id: Id
    kind: Literal["usage", "recurring"]
    ref: Name
    part_number: Id | None = None
    amount: Decimal
    shortfall: Decimal = Decimal("0.00")
    balance: Decimal
    sequence: int
    at: Instant


@event("prepaid_credit.credit.debited", 2)
class CreditsDebitedV2(Contract):
    """Debits of one transaction, one `CreditDebitedV1` each (a midnight's usage debits of many
    accounts come together): the debits of accounts whose keys fall on one partition of
    `prepaid_credit.events`, keyed by the first of them, each account's in ledger order and in
    order with its other notices. Version 1 (one debit) is read as a list of one."""

    debits: list[CreditDebitedV1] = Field(max_length=10_000)


@upcaster("prepaid_credit.credit.debited", 1)
def _debited_v1_to_v2(payload: dict) -> dict:
    return {"debits": [payload]}


@event("prepaid_credit.credit.expired", 1)
class CreditExpiredV1(Contract):
    """A lot expired with credits left: `amount` left the balance."""

    account_id: Id
    lot: Name
    amount: Decimal
    balance: Decimal
    sequence: int
    at: Instant


@event("prepaid_credit.balance.low", 1)
class LowBalanceV1(Contract):
    """The balance fell from at or above the account's threshold to below it (once per crossing)."""

    account_id: Id
    balance: Decimal
    threshold: Decimal
    at: Instant


@event("prepaid_credit.balance.exhausted", 1)
class CreditExhaustedV1(Contract):
    """The balance fell to zero from above, or a shortfall was recorded (once until it is above
    zero again)."""

    account_id: Id
    balance: Decimal
    shortfall: Decimal
    at: Instant
