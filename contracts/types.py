"""Checked value types for every contract and HTTP body: what a field may carry, and its bounds."""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

import pycountry
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints


def _instant_setting(name: str, default: str) -> datetime:
    raw = os.environ.get(name) or default
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware instant, got {raw!r}")
    return value.astimezone(timezone.utc)


# The platform's window: every instant, date and month a contract carries lies in
# [INSTANT_MIN, INSTANT_MAX). Far enough from the calendar's ends that local-time and month
# arithmetic (a month later, a zone offset away, payment terms ahead) can never overflow, and
# narrow enough that a typo (0001, 9999, 1900) is refused instead of billed.
INSTANT_MIN = _instant_setting("BILLING_INSTANT_MIN", "2000-01-01T00:00:00+00:00")
INSTANT_MAX = _instant_setting("BILLING_INSTANT_MAX", "2100-01-01T00:00:00+00:00")

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
MAX_QUANTITY = 1_000_000  # units of one subscription (licences, numbers): 2^31 is 2,000 times more
MAX_COUNT = 100_000_000  # users counted at a metering point, across a partner's customers
MAX_USAGE = Decimal("1e9")  # units in one usage record (pages, minutes)
MAX_AMOUNT = Decimal("1e9")  # money in one payment or one unit price
MAX_PAYMENT_TERMS = 365  # days
MAX_NAME = 200  # characters


def _short(value: object) -> str:
    """A value for an error message, cut so that a huge input is never echoed back."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{_short(value)} is not an IANA time zone")
    return value


# Codes ISO 4217 lists that are not money an invoice can be in: precious metals, the IMF's and
# development banks' units of account, the testing code and "no currency".
_NOT_MONEY = frozenset({"XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA",
                        "XTS", "XXX"})


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY


def _currency(value: str) -> str:
    if value not in _currencies():
        raise ValueError(f"{_short(value)} is not an ISO 4217 currency")
    return value


# years each of whose instants is inside the window at any UTC offset (a day at most): most
# values are decided by their year alone, since an aware comparison calls utcoffset() on both
# sides (three per usage record: about a tenth of rating's CPU on its usage path)
_SURE_YEARS = range(INSTANT_MIN.year + 2, INSTANT_MAX.year - 1)


def _in_window(value: datetime) -> datetime:
    if value.year in _SURE_YEARS:
        return value
    try:
        inside = INSTANT_MIN <= value < INSTANT_MAX
    except OverflowError:  # an offset that pushes the instant past the calendar's ends
        inside = False
    if not inside:
        raise ValueError(f"instant outside the platform's window [{INSTANT_MIN.isoformat()}, "
                         f"{INSTANT_MAX.isoformat()})")
    return value


def _date_in_window(value: date) -> date:
    if not INSTANT_MIN.date() <= value < INSTANT_MAX.date():
        raise ValueError(f"date outside the platform's window [{INSTANT_MIN.date()}, {INSTANT_MAX.date()})")
    return value


def _month_in_window(value: str) -> str:
    first = date(int(value[:4]), int(value[5:7]), 1)
    if not date(INSTANT_MIN.year, INSTANT_MIN.month, 1) <= first < INSTANT_MAX.date():
        raise ValueError(f"month outside the platform's window [{INSTANT_MIN.date()}, {INSTANT_MAX.date()})")
    return value


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN), Field(
    description="An identifier: 1 to 128 characters, a letter or digit then letters, digits and "
                "`._:@-` (no `/`, no spaces, no control characters: it is a URL path segment)")]
"""Ids of accounts, subscriptions, customers, users, records, runs, payments, part numbers:
`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`. 128 characters hold a UUID with a 90-character
namespace prefix (replays prefix every id); `/` would break the URL an id is read back at."""

Name = Annotated[str, StringConstraints(max_length=MAX_NAME, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$"), Field(
    description="Free text for people: at most 200 characters, no control characters")]
"""A display name or label: at most 200 characters, no C0/C1 control characters (`\\u0000`
cannot be stored in PostgreSQL text, the others break CSV exports and logs)."""

TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_zone), Field(
    description="An IANA time zone of the tz database the platform ships (tzdata), e.g. `Europe/Berlin`")]
"""An IANA time zone name known to the pinned `tzdata` (`UTC`, `Europe/Berlin`); `Mars/Olympus`,
paths and the empty string are refused."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency), Field(
    description="An ISO 4217 currency code (e.g. `USD`, `EUR`)")]
"""An active ISO 4217 code from pycountry's list, less metals, units of account and the test
and no-currency codes (`XAU`, `XDR`, `XTS`, `XXX`...)."""

Instant = Annotated[AwareDatetime, AfterValidator(_in_window), Field(
    description="An aware instant (with an offset) inside the platform's window, by default "
                "2000-01-01T00:00:00Z inclusive to 2100-01-01T00:00:00Z exclusive")]
"""An aware instant in [BILLING_INSTANT_MIN, BILLING_INSTANT_MAX), default [2000-01-01,
2100-01-01) UTC. Calendar-end instants with offsets (`0001-01-01T00:00:00+01:00`) are refused,
never stored as `-infinity`."""

LocalDate = Annotated[date, AfterValidator(_date_in_window), Field(
    description="A calendar date inside the platform's window (default 2000-01-01 to 2099-12-31)")]
"""A calendar date inside the platform window (dates of price versions, periods)."""

Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"), AfterValidator(_month_in_window),
                  Field(description="A month `YYYY-MM` inside the platform's window", examples=["2026-05"])]
"""A billing month `YYYY-MM` whose first day lies inside the platform window (`0000-01` refused)."""

Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY, description="Units: 1 to 1,000,000")]
"""Units of one subscription: 1 to 1,000,000 (a negative, zero or 2^31 quantity is refused)."""

Count = Annotated[int, Field(ge=0, le=MAX_COUNT, description="A count: 0 to 100,000,000")]
"""A count of users at a metering point: 0 to 100,000,000."""

SmallCount = Annotated[int, Field(ge=0, le=1_200, description="0 to 1,200")]
"""Product rule numbers (minimum days, minimum term months, minimum packs): 0 to 1,200."""

UsageQuantity = Annotated[Decimal, Field(gt=0, le=MAX_USAGE, decimal_places=6, allow_inf_nan=False,
                                         description="Units used: positive, at most 1e9, at most 6 decimals")]
"""Units in one usage record: > 0, at most 1,000,000,000, at most 6 decimal places (`1e40`,
`NaN` and `0` are refused)."""

Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False,
                                  description="Money: positive, at most 1,000,000,000.00, at most 2 decimals")]
"""A money amount paid or charged: > 0, at most 1,000,000,000.00, at most 2 decimal places
(`1e999999` is refused, not sent to PostgreSQL's numeric)."""

Credits = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False,
                                   description="Prepaid credits: 0 to 1,000,000,000.00, at most 2 decimals")]
"""An amount of prepaid credits that may be zero (a low-balance threshold): 0 to 1e9, cents."""

UnitPrice = Annotated[Decimal, Field(ge=0, le=MAX_AMOUNT, decimal_places=6, allow_inf_nan=False,
                                     description="A unit price: 0 to 1,000,000,000, at most 6 decimals")]
"""A catalogue or price-book unit price: 0 (free) to 1,000,000,000, at most 6 decimal places
(prices of a fax page are fractions of a cent; lines are rounded to cents once)."""

PaymentTerms = Annotated[int, Field(ge=0, le=MAX_PAYMENT_TERMS, description="Days: 0 to 365")]
"""Payment terms in days: 0 (due on issue) to 365; 10^8 days would overflow the due date."""

TierBound = Annotated[int, Field(ge=1, le=10**12, description="Units: 1 to 10^12")]
"""The upper bound of a usage tier, in units (1 to 10^12)."""

UsageDirection = Literal["inbound", "outbound"]
"""Which way a usage record went: `inbound` (received, e.g. fax pages to a provisioned number)
or `outbound` (sent)."""

UsageGroup = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$"),
                       Field(description="A group of users a usage record belongs to (a department, a team): "
                                         "1 to 100 characters, no control characters")]
"""The group (department, team) a usage record's user belongs to, as the platform names it: free
text for people, 1 to 100 characters, no C0/C1 control characters."""

PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{2,15}$"), Field(
    description="A telephone or fax number, E.164 digits: an optional `+` then 2 to 15 digits",
    examples=["+493012345678"])]
"""A telephone or fax number in E.164 form: an optional `+` and 2 to 15 digits (no spaces or
punctuation, so one number is always spelled one way and groups in reports)."""
