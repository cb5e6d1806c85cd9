"""Pure glue between rating's stored facts and the pricing core: no I/O, no clock."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from services.rating.pricing import (
    EMPTY_LEDGER, Account, BilledLedger, Catalog, PriceBook, Product, RunResult, Tier, UsageRecord, as_month,
    billing_run, metering_point, subscriptions_from_facts,
)
from services.rating.pricing.catalog import PriceVersion
from services.rating.pricing.lines import build_frozen

_NONE: frozenset[str] = frozenset()


def product_from_dict(p: Mapping) -> Product:
    """A pricing `Product` from the catalogue contract's shape (FORMAT.md PRODUCT)."""
    def tiers(raw) -> tuple[Tier, ...]:
        return tuple(Tier(None if t.get("up_to") is None else Decimal(str(t["up_to"])),
                          Decimal(str(t["unit_price"]))) for t in raw or ())

    return Product(
        part_number=p["part_number"], kind=p["kind"], unit_price=Decimal(str(p["unit_price"])),
        name=p.get("name") or None, minimum_days=p.get("minimum_days", 0),
        minimum_term_months=p.get("minimum_term_months", 0),
        termination=p.get("termination", "immediate"), pack_size=p.get("pack_size", 100_000),
        minimum_packs=p.get("minimum_packs", 1), tiers=tiers(p.get("tiers")),
        tier_mode=p.get("tier_mode"),
        versions=tuple(PriceVersion(v["id"], date.fromisoformat(v["effective_from"]),
                                    Decimal(str(v["unit_price"])), tiers(v.get("tiers")),
                                    v.get("tier_mode")) for v in p.get("versions") or ()),
    )


def catalogs_from_rows(rows: Iterable[Mapping]) -> dict[str, Catalog]:
    """One catalogue per currency from (currency, product) rows."""
    by_currency: dict[str, list[Product]] = defaultdict(list)
    for row in rows:
        by_currency[row["currency"]].append(product_from_dict(row["product"]))
    return {currency: Catalog.of(currency, products) for currency, products in by_currency.items()}


@dataclass(frozen=True)
class AccountRating:
    """One account's run: its settlement by mode, and what the core rated."""

    account_id: str
    settlement: str  # "invoice" for subscription-mode accounts, "prepaid" for prepaid ones
    currency: str
    time_zone: str
    payment_terms_days: int
    result: RunResult


@dataclass(frozen=True)
class AccountFailure:
    """An account whose run could not be rated: set aside (quarantined) with why; its run goes on."""

    account_id: str
    reason: str  # the exception's class name: a short, stable code
    error: str


def failure(account_id: str, exc: BaseException) -> AccountFailure:
    """`exc` as an account's failure; the message is cut to keep one bad value from filling a row."""
    return AccountFailure(account_id, type(exc).__name__, (str(exc) or repr(exc))[:2000])


def month_error(month: str) -> str | None:
    """Why `month` ('YYYY-MM') cannot be rated at all, or None: a run's months reach one month
    back (usage in arrears) and one forward (charges in advance), so all three must be dates."""
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        return f"month {month!r} cannot be rated: not YYYY-MM"
    try:
        year, mon = as_month(month)
        first = date(year, mon, 1)
        first - relativedelta(months=1), first + relativedelta(months=2)
        metering_point((year, mon), "UTC")
    except Exception as exc:  # the text, the calendar or the date range: one reason
        return f"month {month!r} cannot be rated: {type(exc).__name__}: {exc}"
    return None


def rate_accounts(month: str, accounts: list[Mapping],
                  facts: Mapping[str, list]) -> Iterator[AccountRating | AccountFailure]:
    """Rate month `month` for `accounts` from the facts loaded for them (see store.load_facts),
    yielding each account's rating in turn (a caller can give other work a turn in between), or
    its `AccountFailure` when anything about it fails (no catalogue in its currency, a time zone
    zoneinfo does not know, a stored date out of range): one account's bad data stays its own.

    The core drops facts dated at or after each account's metering point itself; termination
    requests need the request instant, so `subscriptions_from_facts` drops those made at or after it.
    """
    catalogs = catalogs_from_rows(facts["catalog"])
    subs, counts, usage = defaultdict(list), defaultdict(list), defaultdict(list)
    units: dict[str, dict] = defaultdict(dict)
    for r in facts["subscriptions"]:
        subs[r["account_id"]].append(r)
    for r in facts["user_counts"]:
        counts[r["account_id"]].append((r["at"], r["count"]))
    # a prepaid account's usage is debited daily by prepaid_credit, never billed by a run
    prepaid = {a["account_id"] for a in accounts if a["mode"] == "prepaid"}
    for r in facts["usage"]:
        if r["account_id"] in prepaid:
            continue
        usage[r["account_id"]].append(build_frozen(UsageRecord, {
            "id": r["record_id"], "part_number": r["part_number"], "quantity": r["quantity"], "used_at": r["used_at"],
            "arrived_at": r["received_at"]}))
    for r in facts["usage_units"]:
        units[r["account_id"]][(r["part_number"], r["usage_month"])] = r["units"]
    target = as_month(month)
    metering_points: dict[str, datetime] = {}
    books: dict[tuple, PriceBook] = {}
    for a in accounts:
        try:
            yield _rate_one(target, a, catalogs, subs, counts, usage, units, metering_points, books)
        except Exception as exc:  # any failure of this account's data or rules: its own
            yield failure(a["account_id"], exc)


def _rate_one(target, a: Mapping, catalogs, subs, counts, usage, units,
              metering_points: dict[str, datetime], books: dict[tuple, PriceBook]) -> AccountRating:
    aid, tz = a["account_id"], a["time_zone"]
    catalog = catalogs.get(a["currency"])
    if catalog is None:
        raise LookupError(f"no catalogue in {a['currency']} for account {aid}")
    mp = metering_points.get(tz) or metering_points.setdefault(tz, metering_point(target, tz))
    rows = subs[aid]
    through = {r["subscription_id"]: r["billed_through"] for r in rows if r["billed_through"] is not None}
    # build_frozen (here and above): the same values as the frozen dataclasses' __init__, without
    # its per-field cost
    ledger = build_frozen(BilledLedger, {"billed_through": through, "usage_units": units.get(aid, {}),
                                         "rated_usage_ids": _NONE}) if through or aid in units else EMPTY_LEDGER
    account = build_frozen(Account, {"id": aid, "time_zone": tz, "currency": a["currency"]})
    result = billing_run(target, account, catalog,
                         subscriptions_from_facts(rows, mp), counts[aid], usage[aid], ledger,
                         _price_book(a["price_book"], books))
    return build_frozen(AccountRating, {
        "account_id": aid, "settlement": "prepaid" if a["mode"] == "prepaid" else "invoice",
        "currency": a["currency"], "time_zone": tz, "payment_terms_days": a["payment_terms_days"], "result": result})


def _price_book(book: Mapping | None, books: dict[tuple, PriceBook]) -> PriceBook | None:
    """An account's stored price book; accounts with equal books share one object, and so the
    line shapes the run memoises per book."""
    if not book:
        return None
    key = (book["id"], tuple(book["prices"].items()))
    found = books.get(key)
    if found is None:
        found = books[key] = PriceBook(book["id"], {part: Decimal(p) for part, p in book["prices"].items()})
    return found
