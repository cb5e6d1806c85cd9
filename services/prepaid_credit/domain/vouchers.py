"""Vouchers' rules (BILLING_RULES.md section 8): valid codes, credits and lifetimes, and refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from services.rating.pricing import day_of, zone
from shared.refusal import Refused

RefusalReason = Literal["invalid_voucher", "duplicate_voucher", "unknown_voucher", "voucher_already_redeemed",
                        "not_prepaid"]
# The order in which the reasons are checked (FORMAT.md "Version 2"): the first that applies is reported.
REFUSAL_REASONS: tuple[RefusalReason, ...] = (
    "invalid_voucher", "duplicate_voucher", "unknown_voucher", "voucher_already_redeemed", "not_prepaid")

CODE = re.compile(r"[A-Za-z0-9]{4,32}")
CENT = Decimal("0.01")
# Credits carry two decimals and, like every amount on the platform, stay below a billion.
MAX_CREDITS = Decimal("1000000000")


# section 8's refusals at an edge: what does not exist is a 404, what clashes with what exists a 409
STATUS = {"invalid_voucher": 422, "duplicate_voucher": 409, "unknown_voucher": 404,
          "voucher_already_redeemed": 409, "not_prepaid": 422}


class VoucherRefused(Refused, ValueError):
    """A voucher issue or redemption refused with one of `REFUSAL_REASONS`; nothing changes."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(reason, detail, STATUS.get(reason, 422))


@dataclass(frozen=True, slots=True)
class Voucher:
    """A valid voucher: its code (4 to 32 ASCII letters and digits), credits (> 0, in cents) and
    lifetime in days (>= 1)."""

    code: str
    credits: Decimal
    lifetime_days: int


@dataclass(frozen=True, slots=True)
class IssuedVoucher:
    """A voucher as the service knows it: issued, and once redeemed, by which account and when."""

    voucher: Voucher
    issued_at: datetime
    redeemed_by: str | None = None
    redeemed_at: datetime | None = None

    @property
    def state(self) -> Literal["issued", "redeemed"]:
        return "issued" if self.redeemed_by is None else "redeemed"


def valid_code(code: object) -> bool:
    """Whether `code` is a voucher code: 4 to 32 ASCII letters and digits (case kept as given)."""
    return isinstance(code, str) and CODE.fullmatch(code) is not None


def check_voucher(code: object, credits: object, lifetime_days: object) -> Voucher:
    """The `Voucher`, or `VoucherRefused("invalid_voucher")` for a bad code, credits that are not
    a decimal above zero in whole cents (below a billion), or a lifetime that is not a whole
    number of days >= 1."""
    if not valid_code(code):
        raise VoucherRefused("invalid_voucher", "a code is 4 to 32 letters and digits")
    try:
        amount = credits if isinstance(credits, Decimal) else Decimal(str(credits))
    except (InvalidOperation, ValueError):
        raise VoucherRefused("invalid_voucher", "credits must be a decimal") from None
    if isinstance(credits, (bool, float)) or not amount.is_finite() or not 0 < amount < MAX_CREDITS \
            or amount != amount.quantize(CENT):
        raise VoucherRefused("invalid_voucher", "credits must be above zero, in whole cents")
    if isinstance(lifetime_days, bool) or not isinstance(lifetime_days, int) or not 1 <= lifetime_days <= 36_500:
        raise VoucherRefused("invalid_voucher", "the lifetime is a whole number of days, at least 1")
    return Voucher(code, amount.quantize(CENT), lifetime_days)


def check_issue(code: object, credits: object, lifetime_days: object, known: bool) -> Voucher:
    """Checks of a voucher issue, in order: `invalid_voucher`, then `duplicate_voucher` when a
    voucher with this code is `known` (issued before)."""
    voucher = check_voucher(code, credits, lifetime_days)
    if known:
        raise VoucherRefused("duplicate_voucher", f"voucher {code} was issued before")
    return voucher


def check_redemption(code: object, issued: IssuedVoucher | None, account_prepaid: bool) -> Voucher:
    """Checks of a redemption, in order: `invalid_voucher` (not a code), `unknown_voucher` (never
    issued: `issued` is None), `voucher_already_redeemed` (by anyone, this account too), then
    `not_prepaid` (the account is in subscription mode). An unknown account is the caller's
    `unknown_account`, checked before all of these."""
    if not valid_code(code):
        raise VoucherRefused("invalid_voucher", "a code is 4 to 32 letters and digits")
    if issued is None:
        raise VoucherRefused("unknown_voucher", f"no voucher {code}")
    if issued.redeemed_by is not None:
        raise VoucherRefused("voucher_already_redeemed", f"voucher {code} was redeemed before")
    if not account_prepaid:
        raise VoucherRefused("not_prepaid", "only a prepaid account redeems vouchers")
    return issued.voucher


def lot_expiry(redeemed_at: datetime, lifetime_days: int, time_zone: str) -> datetime:
    """When a lot redeemed at `redeemed_at` expires: 00:00 (zone `time_zone`) of the day
    d(redeemed_at) + lifetime_days. Example: redeemed 2026-03-03 12:00, 60 days: 2026-05-02 00:00.

    Where that local midnight does not exist (a DST gap at 00:00), zoneinfo's fold=0 reading is
    used, as for metering points."""
    day: date = day_of(redeemed_at, zone(time_zone)) + timedelta(days=lifetime_days)
    return datetime(day.year, day.month, day.day, tzinfo=zone(time_zone))
