"""The scenario file format (shared/scenarios/FORMAT.md) as pydantic models, with clear errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal, Union
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from contracts.types import MAX_AMOUNT, MAX_USAGE, Count, Currency, Id, Instant, Month, PaymentTerms, Quantity, TimeZone


class ScenarioError(Exception):
    """An invalid scenario file; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _decimal(value: str) -> str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal string: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    if not 0 <= number <= MAX_AMOUNT or number.as_tuple().exponent < -6:
        raise ValueError("must be 0 to 1,000,000,000 with at most 6 decimals")
    return value


Money = Annotated[str, AfterValidator(_decimal)]


def _any_amount(value: str) -> str:
    """A payment's, dispute's or voucher's amount: any finite decimal string; the rules refuse one
    that is not positive or finer than a cent as a rejection (`invalid_amount`, `invalid_voucher`),
    not as an invalid file."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a decimal string: {value!r}") from None
    if not number.is_finite() or abs(number) > MAX_AMOUNT:
        raise ValueError("must be a finite decimal of at most 1,000,000,000")
    return value


AnyAmount = Annotated[str, AfterValidator(_any_amount)]


def _usage_quantity(value: int | str) -> int | str:
    number = Decimal(value)
    if not 0 < number <= MAX_USAGE or number.as_tuple().exponent < -6:
        raise ValueError("must be positive, at most 1e9, with at most 6 decimals")
    return value


MonthStr = Month


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierModel(_Strict):
    up_to: Annotated[int, Field(gt=0)] | None
    unit_price: Money


class VersionModel(_Strict):
    """Extension: an effective-dated price version of a product."""

    id: Id
    effective_from: date
    unit_price: Money
    tiers: list[TierModel] | None = None
    tier_mode: Literal["graduated", "volume"] | None = None


class ProductModel(_Strict):
    part_number: Id
    name: str | None = None
    kind: Literal["recurring", "pack", "usage"]
    unit_price: Money
    minimum_days: Annotated[int, Field(ge=0)] = 0
    minimum_term_months: Annotated[int, Field(ge=0)] = 0
    termination: Literal["immediate", "end_of_month"] = "immediate"
    pack_size: Annotated[int, Field(gt=0)] = 100_000
    minimum_packs: Annotated[int, Field(ge=0)] = 1
    tiers: list[TierModel] | None = None
    tier_mode: Literal["graduated", "volume"] | None = None
    versions: list[VersionModel] = []
    # extension: a brand product's type (contracts.provisioning.ProductV1.brand); not said, any
    # brand starts a region's billing, as FORMAT.md's region_activated has it
    brand: Literal["full", "theme"] | None = None


class CatalogModel(_Strict):
    currency: Currency
    products: list[ProductModel]


class PriceBookModel(_Strict):
    """Extension: a partner price book overriding unit prices of some part numbers."""

    id: Id
    prices: dict[str, Money]


class AccountModel(_Strict):
    id: Id
    time_zone: TimeZone = "UTC"
    payment_terms_days: PaymentTerms = 30
    price_book: PriceBookModel | None = None
    mode: Literal["subscription", "prepaid"] = "subscription"  # version 2
    low_balance_threshold: Money = "0.00"  # version 2: credits


class _Event(_Strict):
    at: Instant


class PartnerOnboarded(_Event):
    type: Literal["partner_onboarded"]
    account: Id
    subscription: Id
    part_number: Id
    full_brand: Id | None = None


class BrandReady(_Event):
    type: Literal["brand_ready"]
    account: Id
    subscription: Id
    part_number: Id
    cloud: Id = "commercial"


class RegionActivated(_Event):
    type: Literal["region_activated"]
    account: Id
    subscription: Id
    part_number: Id
    brands: list[Id] = []


class CustomerProvisioned(_Event):
    type: Literal["customer_provisioned"]
    account: Id
    customer: Id
    brand: Id | None = None
    regions: list[Id] = []


class CustomerRemoved(_Event):
    type: Literal["customer_removed"]
    customer: Id


class FeatureProvisioned(_Event):
    type: Literal["feature_provisioned"]
    account: Id
    subscription: Id
    part_number: Id
    quantity: Quantity = 1
    customer: Id | None = None


class FeatureRemoved(_Event):
    type: Literal["feature_removed"]
    subscription: Id


class TerminationRequested(_Event):
    type: Literal["termination_requested"]
    subscription: Id


class UserCount(_Event):
    type: Literal["user_count"]
    account: Id
    count: Count


class Usage(_Event):
    type: Literal["usage"]
    id: Id
    account: Id
    part_number: Id
    quantity: Annotated[Union[int, Money], AfterValidator(_usage_quantity)]
    used_at: Instant | None = None


class BillingRun(_Event):
    type: Literal["billing_run"]
    month: MonthStr


class Payment(_Event):
    """Version 2: a payment of the invoice of `account` and `month`."""

    type: Literal["payment"]
    account: Id
    month: MonthStr
    amount: AnyAmount
    method: str
    id: Id | None = None


class DisputeOpened(_Event):
    """Version 2: a dispute of the invoice of `account` and `month`, received at `at`."""

    type: Literal["dispute_opened"]
    dispute: Id
    account: Id
    month: MonthStr
    amount: AnyAmount
    reason: str = ""


class DisputeResolved(_Event):
    """Version 2: `credit` only for an upheld dispute (default: the disputed amount)."""

    type: Literal["dispute_resolved"]
    dispute: Id
    outcome: Literal["upheld", "rejected"]
    credit: AnyAmount | None = None


class VoucherIssued(_Event):
    """Version 2: a voucher exists (an invalid code, credits or lifetime is a rejection, not a bad file)."""

    type: Literal["voucher_issued"]
    voucher: Annotated[str, Field(max_length=200)]
    credits: AnyAmount
    lifetime_days: Annotated[int, Field(ge=-1_000_000, le=1_000_000)]


class VoucherRedeemed(_Event):
    """Version 2: a prepaid account redeems a voucher."""

    type: Literal["voucher_redeemed"]
    voucher: Annotated[str, Field(max_length=200)]
    account: Id


MONEY_EVENTS = (Payment, DisputeOpened, DisputeResolved)

Event = Annotated[
    Union[PartnerOnboarded, BrandReady, RegionActivated, CustomerProvisioned, CustomerRemoved,
          FeatureProvisioned, FeatureRemoved, TerminationRequested, UserCount, Usage, BillingRun,
          Payment, DisputeOpened, DisputeResolved, VoucherIssued, VoucherRedeemed],
    Field(discriminator="type"),
]


class IssuerModel(_Strict):
    """Version 2: the calendar dispute deadlines use."""

    time_zone: TimeZone = "UTC"
    holidays: list[date] = []


class ScenarioModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    description: str = ""
    catalog: CatalogModel
    accounts: list[AccountModel]
    events: list[Event]
    expected: dict | None = None
    until: Instant | None = None  # version 2: outputs as of it (default: the last event's `at`)
    issuer: IssuerModel = IssuerModel()

    @property
    def until_or_last(self):
        """The instant the outputs are taken at: `until`, else the last event's `at` (None: no events)."""
        return self.until if self.until is not None else (self.events[-1].at if self.events else None)


def _where(loc: tuple) -> str:
    """'events[3].at' from a pydantic location, dropping the union's tag."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i >= 2 and loc[0] == "events" and i == 2 and isinstance(loc[1], int):
            continue  # the discriminator tag (event type)
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


def _problem(error: dict) -> str:
    where = _where(tuple(error["loc"]))
    if error["type"] == "union_tag_invalid":
        return f"{where}.type: unknown event type {error['ctx']['tag']!r}"
    if error["type"] == "union_tag_not_found":
        return f"{where}.type: missing event type"
    if error["type"] == "string_type" and where.endswith("price"):
        return f"{where}: must be a decimal string such as \"12.00\" (never a JSON number)"
    return f"{where}: {error['msg']}"


def _check_semantics(scenario: ScenarioModel) -> list[str]:
    problems = []
    seen: set[str] = set()
    for i, product in enumerate(scenario.catalog.products):
        if product.part_number in seen:
            problems.append(f"catalog.products[{i}].part_number: duplicate {product.part_number!r}")
        seen.add(product.part_number)
        for name, tiers, mode in [("", product.tiers, product.tier_mode)] + [
                (f".versions[{j}]", v.tiers, v.tier_mode) for j, v in enumerate(product.versions)]:
            if not tiers:
                continue
            where = f"catalog.products[{i}]{name}"
            if mode is None:
                problems.append(f"{where}.tier_mode: required with tiers (graduated or volume)")
            bounds = [t.up_to for t in tiers]
            if bounds[-1] is not None or None in bounds[:-1] or bounds[:-1] != sorted(set(bounds[:-1])):
                problems.append(f"{where}.tiers: up_to must increase and only the last tier be unbounded (null)")
    ids = [a.id for a in scenario.accounts]
    for i, account_id in enumerate(ids):
        if account_id in ids[:i]:
            problems.append(f"accounts[{i}].id: duplicate {account_id!r}")
    for i in range(1, len(scenario.events)):
        if scenario.events[i].at < scenario.events[i - 1].at:
            problems.append(f"events[{i}].at: {scenario.events[i].at.isoformat()} is before "
                            f"events[{i - 1}].at (events must be in time order)")
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Usage) and ev.used_at is not None and ev.used_at > ev.at:
            problems.append(f"events[{i}].used_at: after the record's arrival (at)")
    return problems


def parse_scenario(data: object) -> ScenarioModel:
    """Validate decoded JSON; raises ScenarioError with one line per problem."""
    try:
        scenario = ScenarioModel.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_problem(e) for e in exc.errors()]) from None
    problems = _check_semantics(scenario)
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path) -> ScenarioModel:
    """Read and validate a scenario file; raises ScenarioError (never another exception)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"cannot read {path}: {exc.strerror}"]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError([f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    return parse_scenario(data)
