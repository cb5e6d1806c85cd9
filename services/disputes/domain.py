"""Pure dispute rules (BILLING_RULES.md section 9): working-day deadlines, states, refusals.

No I/O, no clock: instants come in as arguments. The interface other code relies on (the
disputes service, invoicing's credit notes, the scenario runner):

- `IssuerCalendar.of(time_zone, holidays)`: an issuer's working days (Monday to Friday minus
  its holidays) in an IANA zone; `DEFAULT_CALENDAR` is UTC without holidays.
- `due_at(received, calendar) -> datetime`: the investigation deadline, in UTC.
- `Dispute`: one dispute's state (frozen); `open_dispute(...)` makes one, `resolve(...)`
  returns the resolved copy; `status_at(dispute, now)`, `is_overdue(...)`, `is_late(...)`.
- `check_amount`, `check_disputable`, `check_credit`, `check_unused_id`: the refusals, each
  raising `DisputeRefused(reason, detail)` with a reason code of section 9 (`REASONS`).
- `held_back(disputes, now)`: the amounts open disputes hold back from an invoice's overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Literal

from shared.calendar import WorkingCalendar
from shared.money import round_half_up
from shared.refusal import Refused

IssuerCalendar = WorkingCalendar
"""An issuer's calendar: its IANA time zone and holidays; Monday to Friday are working days."""

DEFAULT_CALENDAR = WorkingCalendar()  # UTC, no holidays: issuers that never set theirs
WORKING_DAYS = 3  # investigation is due this many working days after receipt

Outcome = Literal["upheld", "rejected"]
OUTCOMES: tuple[str, ...] = ("upheld", "rejected")
Status = Literal["open", "overdue", "upheld", "rejected"]

# every refusal of section 9, in the order FORMAT.md lists them
REASONS = ("unknown_invoice", "unknown_dispute", "duplicate_dispute", "already_resolved", "invalid_amount",
           "amount_exceeds_disputable", "credit_exceeds_disputed")


# the status an edge answers each refusal with (section 9 and the service's own): what does not
# exist (or is another partner's) is a 404, what clashes with what exists a 409, the rest 422
STATUS = {"unknown_invoice": 404, "unknown_dispute": 404, "unknown_account": 404, "unknown_issuer": 404,
          "duplicate_dispute": 409, "already_resolved": 409}


class DisputeRefused(Refused, ValueError):
    """A dispute command refused with a reason code of section 9 (`REASONS`); nothing changes."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail, STATUS.get(reason, 422))


# ------------------------------------------------------------------ deadlines
def due_at(received: datetime, calendar: WorkingCalendar = DEFAULT_CALENDAR,
           working_days: int = WORKING_DAYS) -> datetime:
    """The investigation deadline of a dispute received at `received` (aware), in UTC.

    `working_days` (3) working days later in the issuer's calendar, at the same local wall time
    in the issuer's zone. A dispute received on a non-working day counts from 00:00 of the next
    working day (Saturday 10:00 -> Monday 00:00 -> due Thursday 00:00). Friday 15:00 -> due
    Wednesday 15:00. Across a DST change the wall time is kept, so the deadline is not a
    multiple of 24 hours after receipt.

    A wall time the due day does not have or has twice is read as RFC 5545 (3.3.5) reads a
    local time, which is also Python's `fold=0`: a time skipped by a change to summer time
    uses the offset from before the change, so it lands as much later on the wall clock as the
    clock jumped (00:30 skipped by a 00:00 -> 01:00 jump is due at 01:30); a time that occurs
    twice (the change back) is its first occurrence, the earlier instant.
    """
    if received.tzinfo is None:
        raise ValueError("received must be timezone-aware")
    local = calendar.add_working_days(received, working_days)
    return local.replace(fold=0).astimezone(timezone.utc)  # fold=0: the reading above, whatever received's


# ------------------------------------------------------------------ state
@dataclass(frozen=True)
class Dispute:
    """One dispute of an invoice. Amounts are in the invoice's currency, in minor units.
    `credited` is the credit note's amount once upheld (0 once rejected, None while open);
    `late` is True when it was resolved strictly after `due_at`."""

    dispute_id: str
    invoice_number: str
    account_id: str
    issuer: str
    currency: str
    amount: Decimal
    reason: str
    received_at: datetime
    due_at: datetime
    lines: tuple[int, ...] = ()
    outcome: Outcome | None = None
    credited: Decimal | None = None
    resolved_at: datetime | None = None
    late: bool = False

    @property
    def is_open(self) -> bool:
        return self.outcome is None

    @property
    def reinstated(self) -> Decimal:
        """The disputed amount due again after the resolution: all of it when rejected, the
        part not credited when upheld; 0 while open."""
        if self.outcome is None:
            return Decimal("0.00")
        return self.amount - (self.credited or Decimal(0))


def is_overdue(due: datetime, now: datetime, resolved_at: datetime | None = None) -> bool:
    """Still open strictly after its due instant (at the due instant itself it is not)."""
    return resolved_at is None and now > due


def is_late(due: datetime, resolved_at: datetime) -> bool:
    """Resolved strictly after its due instant."""
    return resolved_at > due


def status_at(dispute: Dispute, now: datetime) -> Status:
    """`upheld`/`rejected` once resolved (at or before `now`), else `overdue` strictly after its
    due instant, else `open`."""
    if dispute.outcome is not None and dispute.resolved_at is not None and dispute.resolved_at <= now:
        return dispute.outcome
    return "overdue" if now > dispute.due_at else "open"


def held_back(disputes: Iterable[Dispute], now: datetime, exclude: str | None = None) -> Decimal:
    """What the disputes open at `now` hold back (the sum of their amounts), leaving out the
    dispute `exclude`: an invoice may be overdue only by `due - held_back - paid` (section 7)."""
    return sum((d.amount for d in disputes
                if d.dispute_id != exclude and not (d.resolved_at is not None and d.resolved_at <= now)),
               Decimal("0.00"))


# ------------------------------------------------------------------ refusals
def check_amount(amount: Decimal, currency: str = "USD", what: str = "amount") -> Decimal:
    """`invalid_amount` unless `amount` is positive and in the currency's minor units."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0 \
            or round_half_up(amount, currency) != amount:
        raise DisputeRefused("invalid_amount", f"{what} must be positive in minor units, got {amount}")
    return amount


def check_disputable(amount: Decimal, invoice_due: Decimal, other_open: Iterable[Decimal]) -> None:
    """`amount_exceeds_disputable` when `amount` is more than the invoice's due amount (total
    minus credited) minus the amounts of its other open disputes (inclusive: all of it may be
    disputed)."""
    disputable = invoice_due - sum(other_open, Decimal(0))
    if amount > disputable:
        raise DisputeRefused("amount_exceeds_disputable", f"at most {disputable} may be disputed, got {amount}")


def check_credit(credited: Decimal, disputed: Decimal, currency: str = "USD") -> Decimal:
    """`invalid_amount` unless positive in minor units; `credit_exceeds_disputed` above `disputed`."""
    check_amount(credited, currency, "credited amount")
    if credited > disputed:
        raise DisputeRefused("credit_exceeds_disputed", f"at most {disputed} may be credited, got {credited}")
    return credited


def check_unused_id(dispute_id: str, existing: Dispute | None) -> None:
    """`duplicate_dispute` when the id was used before (by any invoice)."""
    if existing is not None:
        raise DisputeRefused("duplicate_dispute", f"dispute {dispute_id} exists already")


def same_request(existing: Dispute, invoice_number: str, amount: Decimal, reason: str,
                 lines: Sequence[int] = ()) -> bool:
    """Whether a repeated open carries what the first one did (an idempotent retry)."""
    return (existing.invoice_number, existing.amount, existing.reason, existing.lines) == \
        (invoice_number, amount, reason, tuple(lines))


# ------------------------------------------------------------------ use-case rules
@dataclass(frozen=True)
class InvoiceFacts:
    """What disputes knows of an invoice: `due` is its total minus its credit notes;
    `line_count` bounds the disputed line positions (1-based)."""

    number: str
    account_id: str
    issuer: str
    currency: str
    due: Decimal
    line_count: int = 0


def open_dispute(dispute_id: str, invoice: InvoiceFacts, amount: Decimal, reason: str, received: datetime,
                 calendar: WorkingCalendar, other_open: Iterable[Decimal] = (),
                 lines: Sequence[int] = ()) -> Dispute:
    """A new open dispute of `invoice`, received at `received`, due by `due_at(received,
    calendar)`. Refusals, in order: `invalid_amount`, `amount_exceeds_disputable` (against
    `other_open`, the amounts of the invoice's other open disputes). `lines` are 1-based
    positions of the invoice's lines (`invalid_lines` when one is not a line of it)."""
    check_amount(amount, invoice.currency)
    check_disputable(amount, invoice.due, other_open)
    if invoice.line_count and any(not 1 <= n <= invoice.line_count for n in lines):
        raise DisputeRefused("invalid_lines", f"the invoice has lines 1 to {invoice.line_count}")
    if len(set(lines)) != len(lines):
        raise DisputeRefused("invalid_lines", "a line is named twice")
    return Dispute(dispute_id, invoice.number, invoice.account_id, invoice.issuer, invoice.currency, amount,
                   reason, received, due_at(received, calendar), tuple(sorted(lines)))


def resolve(dispute: Dispute, outcome: str, at: datetime, credited: Decimal | None = None) -> Dispute:
    """The dispute resolved at `at`: `upheld` with `credited` (default: the disputed amount;
    at most it) or `rejected` (credited must be absent; it becomes 0). Refusals, in order:
    `already_resolved`, `resolved_before_received`, `invalid_outcome`, `invalid_amount`,
    `credit_exceeds_disputed`. `late` is set when `at` is strictly after the due instant."""
    if not dispute.is_open:
        raise DisputeRefused("already_resolved", f"dispute {dispute.dispute_id} was {dispute.outcome}")
    if at < dispute.received_at:
        raise DisputeRefused("resolved_before_received", f"dispute {dispute.dispute_id} was received at "
                                                         f"{dispute.received_at.isoformat()}")
    if outcome not in OUTCOMES:
        raise DisputeRefused("invalid_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
    if outcome == "rejected":
        if credited is not None:
            raise DisputeRefused("invalid_amount", "a rejected dispute credits nothing")
        amount = Decimal("0.00")
    else:
        amount = dispute.amount if credited is None else check_credit(credited, dispute.amount, dispute.currency)
    return replace(dispute, outcome=outcome, credited=amount, resolved_at=at, late=is_late(dispute.due_at, at))
