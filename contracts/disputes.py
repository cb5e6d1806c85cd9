"""Events and commands of the disputes service (BILLING_RULES.md section 9): disputes opened,
overdue and resolved; open and resolve as commands. Money is a decimal string on the wire."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from contracts.envelope import Contract
from contracts.registry import event
from contracts.types import MAX_AMOUNT, Currency, Id, Instant, Name

DisputedAmount = Annotated[Decimal, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, allow_inf_nan=False, description=(
    "Money in the invoice's currency, at most 1,000,000,000.00; one that is not positive or finer than a cent "
    "is refused with `invalid_amount` (section 9)"))]
"""An amount a dispute names or credits: bounded here, its sign and minor units checked by the
service (so that the refusal carries section 9's reason code, not a schema error)."""


@event("disputes.dispute.opened", 1)
class DisputeOpenedV1(Contract):
    """A dispute of an invoice was received at `received_at`: `amount` is held back from the
    invoice's overdue amount while it is open. Investigation is due at `due_at` (3 working days
    later in the issuer's calendar). `lines` are 1-based positions of the disputed lines."""

    dispute_id: Id
    invoice_number: Id
    account_id: Id
    issuer: str
    currency: Currency
    amount: Decimal
    reason: Name = ""
    lines: list[int] = Field(default_factory=list)
    received_at: Instant
    due_at: Instant


@event("disputes.dispute.overdue", 1)
class DisputeOverdueV1(Contract):
    """A dispute is still open after its due instant (strictly); published once."""

    dispute_id: Id
    invoice_number: Id
    account_id: Id
    currency: Currency
    amount: Decimal
    due_at: Instant
    detected_at: Instant


@event("disputes.dispute.resolved", 1)
class DisputeResolvedV1(Contract):
    """A dispute was resolved at `resolved_at`, once. `upheld`: invoicing issues a credit note of
    `credited` (at most `amount`) against the invoice, the rest of `amount` is due again;
    `rejected`: `credited` is 0 and all of `amount` is due again on the invoice's terms. `late`
    when resolved strictly after `due_at`."""

    dispute_id: Id
    invoice_number: Id
    account_id: Id
    issuer: str
    currency: Currency
    outcome: Literal["upheld", "rejected"]
    amount: Decimal
    credited: Decimal
    received_at: Instant
    due_at: Instant
    resolved_at: Instant
    late: bool


@event("disputes.dispute.open", 1)
class OpenDisputeV1(Contract):
    """Command: open dispute `dispute_id` of invoice `invoice_number`, received at `received_at`
    (the same operation as `POST /v1/disputes`). A refusal is a CommandRejectedV1 on
    platform.rejections with a reason code of section 9; a repeat of the same command changes
    nothing."""

    dispute_id: Id
    invoice_number: Id
    amount: DisputedAmount
    reason: Name = ""
    lines: list[Annotated[int, Field(ge=1, le=100_000)]] = Field(default_factory=list, max_length=1000)
    received_at: Instant


@event("disputes.dispute.resolve", 1)
class ResolveDisputeV1(Contract):
    """Command: resolve dispute `dispute_id` at `resolved_at`, `upheld` (crediting `credited`,
    default the disputed amount) or `rejected` (the same operation as `POST
    /v1/disputes/{id}/resolution`). A dispute is resolved once: a repeat is refused
    (`already_resolved`) and publishes nothing else."""

    dispute_id: Id
    outcome: Literal["upheld", "rejected"]
    credited: DisputedAmount | None = None
    resolved_at: Instant
