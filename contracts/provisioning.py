"""Events and commands of the provisioning service."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from contracts.envelope import Contract
from contracts.registry import event
from contracts.types import (
    MAX_COUNT, Credits, Currency, Id, Instant, LocalDate, Name, PaymentTerms, Quantity, SmallCount, TierBound,
    TimeZone, UnitPrice,
)


@event("provisioning.feature.provision", 1)
class ProvisionFeatureV1(Contract):
    """Command: provision `quantity` units of a product (by part number) for a billing account."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    quantity: Quantity = 1
    customer_id: Id | None = None
    at: Instant | None = None  # when it takes effect; default: when received


@event("provisioning.feature.provisioned", 1)
class FeatureProvisionedV1(Contract):
    """A feature subscription started at `at`."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    quantity: Quantity
    customer_id: Id | None = None
    at: Instant


@event("provisioning.feature.removed", 1)
class FeatureRemovedV1(Contract):
    """A feature subscription ended at `at`."""

    account_id: Id
    subscription_id: Id
    at: Instant


@event("provisioning.account.opened", 1)
class AccountOpenedV1(Contract):
    """A billing account (a partner, a child partner, or a customer billed directly) now exists.

    `mode` decides settlement: `subscription` accounts are invoiced, `prepaid` ones draw credits.
    `time_zone` (IANA) is fixed at creation: all calendar arithmetic for the account uses it.
    """

    account_id: Id
    name: Name = ""
    parent_account_id: Id | None = None
    time_zone: TimeZone = "UTC"
    mode: Literal["subscription", "prepaid"] = "subscription"
    currency: Currency = "USD"
    payment_terms_days: PaymentTerms = 30
    automatic_runs: bool = True  # False: runs only on an operator's request (previews, replays)
    price_book: PriceBookV1 | None = None
    low_balance_threshold: Credits = Decimal("0.00")  # prepaid: a notice when the balance falls below it
    at: Instant


# ------------------------------------------------------------------ the catalogue
class TierV1(Contract):
    """A usage tier: units up to and including `up_to` (None: no bound) at `unit_price`."""

    up_to: TierBound | None = None
    unit_price: UnitPrice


class PriceVersionV1(Contract):
    """An effective-dated price of a product, in force from `effective_from` (a local date)."""

    id: Id
    effective_from: LocalDate
    unit_price: UnitPrice
    tiers: list[TierV1] = []
    tier_mode: Literal["graduated", "volume"] | None = None


class PriceBookV1(Contract):
    """A partner's negotiated flat unit prices per part number, overriding the catalogue."""

    id: Id
    prices: dict[Id, UnitPrice] = Field(max_length=1000)


class ProductV1(Contract):
    """A catalogue product, in the shape of the scenario format's PRODUCT (FORMAT.md)."""

    part_number: Id
    name: Name = ""
    kind: Literal["recurring", "pack", "usage"]
    unit_price: UnitPrice
    minimum_days: SmallCount = 0
    minimum_term_months: SmallCount = 0
    termination: Literal["immediate", "end_of_month"] = "immediate"
    pack_size: Annotated[int, Field(ge=1, le=MAX_COUNT)] = 100_000
    minimum_packs: SmallCount = 1
    tiers: list[TierV1] = Field(default=[], max_length=100)
    tier_mode: Literal["graduated", "volume"] | None = None
    versions: list[PriceVersionV1] = Field(default=[], max_length=100)
    # a brand product's type (section 3): an Additional Region is billed from the first time it is
    # made available to a Full Brand; a region named only with Theme Brands waits. Not said (the
    # scenario format has no such field): any brand counts, as FORMAT.md's region_activated has it
    brand: Literal["full", "theme"] | None = None


@event("provisioning.catalog.published", 1)
class CatalogPublishedV1(Contract):
    """The products provisioning validates against (added or updated; none removed), for rating
    to price with the same catalogue. Key: `catalog`."""

    currency: Currency = "USD"
    products: list[ProductV1] = Field(max_length=10_000)
    at: Instant


# ------------------------------------------------------------------ commands
@event("provisioning.account.open", 1)
class OpenAccountV1(Contract):
    """Command: open a billing account (a partner, or a child partner under `parent_account_id`)."""

    account_id: Id
    name: Name = ""
    parent_account_id: Id | None = None
    time_zone: TimeZone = "UTC"
    mode: Literal["subscription", "prepaid"] = "subscription"
    currency: Currency = "USD"
    payment_terms_days: PaymentTerms = 30
    automatic_runs: bool = Field(default=True, description="False: the invoicing scheduler never "
                                 "requests this account's runs; an operator does (previews, replays, demos)")
    price_book: PriceBookV1 | None = None
    low_balance_threshold: Credits = Field(default=Decimal("0.00"), description="prepaid accounts: a "
                                           "`low_balance` notice when the balance falls below it (0: never)")
    at: Instant | None = None


@event("provisioning.customer.provision", 1)
class ProvisionCustomerV1(Contract):
    """Command: provision a customer of an account, optionally on a brand and regions. For a
    customer that exists, it places it on `brand_id` and `region_ids` instead."""

    account_id: Id
    customer_id: Id
    brand_id: Id | None = None
    region_ids: list[Id] = Field(default=[], max_length=1000)
    at: Instant | None = None


@event("provisioning.customer.remove", 1)
class RemoveCustomerV1(Contract):
    """Command: remove a customer (it leaves its brand and regions)."""

    customer_id: Id
    account_id: Id | None = None
    at: Instant | None = None


@event("provisioning.feature.remove", 1)
class RemoveFeatureV1(Contract):
    """Command: remove a feature subscription (end-of-month products are terminated instead)."""

    subscription_id: Id
    account_id: Id | None = None
    at: Instant | None = None


@event("provisioning.brand.declare_ready", 1)
class MarkBrandReadyV1(Contract):
    """Command: a brand is Ready for Customisation on `cloud` (a known brand gains a cloud)."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    cloud: Id = "commercial"
    at: Instant | None = None


@event("provisioning.region.activate", 1)
class ActivateRegionV1(Contract):
    """Command: an Additional Region is made available to the named brands. With none it is
    known but not billed yet: billing starts the first time it has a brand (FORMAT.md's
    `region_activated`, whose scenario run accepts an empty list too)."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    brand_ids: list[Id] = Field(max_length=1000)
    at: Instant | None = None


@event("provisioning.partner.onboard", 1)
class OnboardPartnerV1(Contract):
    """Command: start a partner's user packs (a pack product), from the Full Brand's readiness
    when `full_brand_id` names one."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    full_brand_id: Id | None = None
    at: Instant | None = None


@event("provisioning.termination.request", 1)
class RequestTerminationV1(Contract):
    """Command: terminate a brand, region, pack or feature (per its product's termination rule)."""

    subscription_id: Id
    account_id: Id | None = None
    at: Instant | None = None


# ------------------------------------------------------------------ events
@event("provisioning.customer.provisioned", 1)
class CustomerProvisionedV1(Contract):
    """A customer exists (or was placed) on `brand_id` and `region_ids` from `at`."""

    account_id: Id
    customer_id: Id
    brand_id: Id | None = None
    region_ids: list[Id] = Field(default=[], max_length=1000)
    at: Instant


@event("provisioning.customer.removed", 1)
class CustomerRemovedV1(Contract):
    """A customer was removed at `at`."""

    account_id: Id
    customer_id: Id
    at: Instant


@event("provisioning.brand.ready", 1)
class BrandReadyV1(Contract):
    """A brand is Ready for Customisation on `cloud`; `billing_started` when this is its first
    commercial readiness (billing starts at `at`)."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    cloud: Id
    billing_started: bool
    at: Instant


@event("provisioning.region.activated", 1)
class RegionActivatedV1(Contract):
    """An Additional Region is available to `brand_ids`; `billing_started` on its Activation Date."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    brand_ids: list[Id]
    billing_started: bool
    at: Instant


@event("provisioning.partner.onboarded", 1)
class PartnerOnboardedV1(Contract):
    """A partner's user packs start (from `at`, or from `full_brand_id`'s readiness when later)."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    full_brand_id: Id | None = None
    at: Instant


@event("provisioning.termination.scheduled", 1)
class TerminationScheduledV1(Contract):
    """A termination was accepted at `requested_at`; the subscription ends at `effective_at`
    (the metering point it takes effect at, or the request itself for one never billed)."""

    account_id: Id
    subscription_id: Id
    part_number: Id
    requested_at: Instant
    effective_at: Instant
    effective_date: LocalDate


# ------------------------------------------------------------------ account settings
@event("provisioning.account.settings_changed", 1)
class AccountSettingsChangedV1(Contract):
    """An account's settings changed at `at` (Onboarding API `PATCH /v1/accounts/{id}`).

    `low_balance_threshold` (when given) applies at once: prepaid_credit's `low_balance` notice.
    `mode` (when given) is the account's mode from `mode_effective_at` on: its next metering
    point (1st, 00:00 account zone) after `at`; the run there settles in that mode (section 8).
    A change back to the mode in force before then cancels a pending switch (same instant)."""

    account_id: Id
    low_balance_threshold: Credits | None = None
    mode: Literal["subscription", "prepaid"] | None = None
    mode_effective_at: Instant | None = None
    at: Instant
