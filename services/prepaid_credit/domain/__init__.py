"""prepaid_credit's pure core (BILLING_RULES.md section 8): vouchers, lots, the ledger, notices, estimate.

Public interface (no I/O, no clock: the service reads its clock and passes instants; money is
`Decimal` credits with two decimals, never rounded here: charges arrive rounded by the pricing core):

- Vouchers (`vouchers.py`): `check_issue(code, credits, lifetime_days, known) -> Voucher` and
  `check_redemption(code, issued: IssuedVoucher | None, account_prepaid) -> Voucher` raise
  `VoucherRefused(reason)`, reasons in `REFUSAL_REASONS` order (`invalid_voucher`,
  `duplicate_voucher`, `unknown_voucher`, `voucher_already_redeemed`, `not_prepaid`);
  `valid_code(code)`; `lot_expiry(redeemed_at, lifetime_days, time_zone)`.
- State (`ledger.py`): `CreditState(account, time_zone, low_balance_threshold, lots, shortfall,
  exhausted_armed, next_seq, first_redeemed_at)` (frozen; `.balance` is the sum of its lots,
  `.next_expiry`), `Lot(id = voucher code, redeemed_at, expires_at, credits, remaining, seq)`.
  Change the threshold with `dataclasses.replace(state, low_balance_threshold=...)`.
- Operations return a `Step(state, entries, notices, lots)`: the new state, the `Entry`s
  (seq, at, kind, amount signed, balance after, shortfall, draws: `Draw(lot, amount)`, ref) and
  `Notice`s (kind `low_balance` | `exhausted`, at, balance, seq) they made, and the lots they
  created or changed (remaining 0: used up or expired). `Step.then(step)` chains two steps.
  - `redeem(state, at, voucher)`: a lot, and the settlement of any shortfall (one step).
  - `debit(state, at, "usage" | "recurring", amount, ref)`: first-to-expire draws, shortfall.
  - `debit_all(state, at, kind, [Charge(amount, ref)])`.
  - `expire(state, at)`: every lot expiring at or before `at` (entries at each lot's expiry).
  - `settle(state, at, usage=[Charge], events=[Voucher | Charge])`: one instant's steps in
    section 8's order (usage debit, expiries, then events: redemptions, recurring debits).
- `lifetime_estimate(entries, lots, at, time_zone, first_redeemed_at=None) -> date | None`.

Readings of unclear rules (see docs/prepaid_credit.md): an entry's `shortfall` is what that debit
could not draw (the account's outstanding total is `CreditState.shortfall`); an expiry entry is
dated at the lot's own expiry instant even when processed later; a zero debit makes no entry; a
shortfall settlement draws from the new lot; notices are judged per entry, except that a
redemption and its settlement are one step.
"""

from .estimate import WINDOW_DAYS, lifetime_estimate
from .ledger import (
    DEBIT_KINDS, Charge, CreditState, DebitKind, Draw, Entry, EntryKind, Lot, Notice, NoticeKind, Step,
    debit, debit_all, expire, redeem, run_debit_instant, run_line_order, settle,
)
from .vouchers import (
    REFUSAL_REASONS, IssuedVoucher, RefusalReason, Voucher, VoucherRefused, check_issue, check_redemption,
    check_voucher, lot_expiry, valid_code,
)

__all__ = [
    "Charge", "CreditState", "DEBIT_KINDS", "DebitKind", "Draw", "Entry", "EntryKind", "IssuedVoucher", "Lot",
    "Notice", "NoticeKind", "REFUSAL_REASONS", "RefusalReason", "Step", "Voucher", "VoucherRefused",
    "WINDOW_DAYS", "check_issue", "check_redemption", "check_voucher", "debit", "debit_all", "expire",
    "lifetime_estimate", "lot_expiry", "redeem", "run_debit_instant", "run_line_order", "settle", "valid_code",
]
