"""The Onboarding API's response shapes (documentation of what the handlers return, key for key).

Every model allows extra keys: FastAPI filters a response through its model, so a key a handler
starts returning before it is listed here still reaches the caller. Money and prices are decimal
strings ("300.00"), instants ISO 8601 strings, local dates "YYYY-MM-DD" strings, as the handlers
return them. A key with a default is sometimes absent from the answer (the routes that use such a
model answer with `response_model_exclude_unset`, so an absent key stays absent, not null).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field

from shared.http import ResponseModel

Mode = Literal["subscription", "prepaid"]
Role = Literal["feature", "brand", "region", "pack"]
TierMode = Literal["graduated", "volume"]


# ------------------------------------------------------------------ reads
class BillingStateOut(ResponseModel):
    """Whether an account, customer or subscription is billed."""

    state: Literal["active", "ended", "termination_pending"] = Field(
        description="`termination_pending`: a subscription's termination is accepted, effective at `effective_at`")
    effective_at: str | None = Field(
        default=None, description="instant it ends or ended; absent while `active`")
    effective_date: str | None = Field(
        default=None, description="subscriptions with an accepted termination only (absent otherwise): the "
                                  "local date the termination takes effect")


class PriceBookOut(ResponseModel):
    """A partner's negotiated flat unit prices, overriding the catalogue."""

    id: str
    prices: dict[str, str] = Field(description="part number -> unit price (decimal string)")


class ModeSwitchOut(ResponseModel):
    mode: Mode = Field(description="the mode the account switches to")
    effective_at: str = Field(description="instant of the switch: the account's next metering point")


class AccountOut(ResponseModel):
    account_id: str
    name: str
    parent_account_id: str | None = Field(description="the parent partner of a child partner; null: top level")
    time_zone: str = Field(description="IANA zone of all the account's calendar arithmetic")
    mode: Mode = Field(description="on GET /v1/accounts/{account_id}: the mode in force now (a pending switch "
                                   "whose instant has passed included); on the list: the stored mode")
    currency: str
    payment_terms_days: int
    opened_at: str
    automatic_runs: bool = Field(description="false: billing runs only on an operator's request")
    price_book: PriceBookOut | None
    low_balance_threshold: str = Field(description="prepaid: a `low_balance` notice below it (decimal string; "
                                                   "0: never)")
    mode_switch: ModeSwitchOut | None = Field(description="a mode switch waiting for its instant; null: none")
    billing_state: BillingStateOut


class AccountDetailOut(AccountOut):
    child_account_ids: list[str] = Field(description="the account's direct child partners")


class CustomerOut(ResponseModel):
    customer_id: str
    account_id: str
    brand_id: str | None = Field(description="the brand subscription the customer is on; null: none")
    region_ids: list[str] = Field(description="the region subscriptions the customer is on")
    provisioned_at: str
    billing_state: BillingStateOut = Field(description="`active`, or `ended` at its removal")


class SubscriptionOut(ResponseModel):
    subscription_id: str
    account_id: str
    role: Role
    part_number: str
    quantity: int
    customer_id: str | None = Field(description="the customer a feature is for; null: the account itself")
    created_at: str = Field(description="when the subscription was created")
    billing_start: str | None = Field(description="when billing starts or started; null: not yet (a brand not "
                                                  "ready on the commercial cloud, a region not available to a "
                                                  "brand, packs waiting for their Full Brand)")
    clouds: list[str] = Field(description="brands: the clouds it is Ready for Customisation on")
    brand_ids: list[str] = Field(description="regions: the Full Brands it is available to")
    full_brand_id: str | None = Field(description="packs: the Full Brand whose readiness starts them")
    termination_requested_at: str | None
    billing_state: BillingStateOut


class CatalogOut(ResponseModel):
    currency: str
    products: list[dict[str, Any]] = Field(
        description="the products as published (PUT /v1/catalog), ordered by part number: `part_number`, "
                    "`name`, `kind`, `unit_price` (decimal string), `minimum_days`, `minimum_term_months`, "
                    "`termination`, `pack_size`, `minimum_packs`, `tiers`, `tier_mode`, `versions`; a product "
                    "stored by an older version may lack the rule fields added since")


# ------------------------------------------------------------------ events (answers of the writes)
class TierOut(ResponseModel):
    up_to: int | None = Field(description="units up to and including; null: no bound")
    unit_price: str


class PriceVersionOut(ResponseModel):
    id: str
    effective_from: str = Field(description="local date")
    unit_price: str
    tiers: list[TierOut]
    tier_mode: TierMode | None


class ProductOut(ResponseModel):
    part_number: str
    name: str
    kind: Literal["recurring", "pack", "usage"]
    unit_price: str
    minimum_days: int
    minimum_term_months: int
    termination: Literal["immediate", "end_of_month"]
    pack_size: int
    minimum_packs: int
    tiers: list[TierOut]
    tier_mode: TierMode | None
    versions: list[PriceVersionOut]
    brand: Literal["full", "theme"] | None = Field(
        None, description="a brand product's type: an Additional Region is billed from the first time "
                          "it is available to a Full Brand (null: not said, any brand counts)")


class CatalogPublishedOut(ResponseModel):
    type: Literal["provisioning.catalog.published"]
    currency: str
    products: list[ProductOut]
    at: str


class AccountOpenedOut(ResponseModel):
    type: Literal["provisioning.account.opened"]
    account_id: str
    name: str
    parent_account_id: str | None
    time_zone: str
    mode: Mode
    currency: str
    payment_terms_days: int
    automatic_runs: bool
    price_book: PriceBookOut | None
    low_balance_threshold: str
    at: str


class AccountSettingsChangedOut(ResponseModel):
    type: Literal["provisioning.account.settings_changed"]
    account_id: str
    low_balance_threshold: str | None = Field(description="the new threshold (at once); null: unchanged")
    mode: Mode | None = Field(description="the mode asked for; null: unchanged")
    mode_effective_at: str | None = Field(description="when `mode` takes effect (the next metering point)")
    at: str


class CustomerProvisionedOut(ResponseModel):
    type: Literal["provisioning.customer.provisioned"]
    account_id: str
    customer_id: str
    brand_id: str | None
    region_ids: list[str]
    at: str


class CustomerRemovedOut(ResponseModel):
    type: Literal["provisioning.customer.removed"]
    account_id: str
    customer_id: str
    at: str


class FeatureProvisionedOut(ResponseModel):
    type: Literal["provisioning.feature.provisioned"]
    account_id: str
    subscription_id: str
    part_number: str
    quantity: int
    customer_id: str | None
    at: str


class BrandReadyOut(ResponseModel):
    type: Literal["provisioning.brand.ready"]
    account_id: str
    subscription_id: str
    part_number: str
    cloud: str
    billing_started: bool = Field(description="its first commercial readiness: billing starts at `at`")
    at: str


class RegionActivatedOut(ResponseModel):
    type: Literal["provisioning.region.activated"]
    account_id: str
    subscription_id: str
    part_number: str
    brand_ids: list[str] = Field(description="every Full Brand the region is available to now")
    billing_started: bool = Field(description="its Activation Date: billing starts at `at`")
    at: str


class PartnerOnboardedOut(ResponseModel):
    type: Literal["provisioning.partner.onboarded"]
    account_id: str
    subscription_id: str
    part_number: str
    full_brand_id: str | None
    at: str


class FeatureRemovedOut(ResponseModel):
    type: Literal["provisioning.feature.removed"]
    account_id: str
    subscription_id: str
    at: str = Field(description="when it ended")


class TerminationScheduledOut(ResponseModel):
    type: Literal["provisioning.termination.scheduled"]
    account_id: str
    subscription_id: str
    part_number: str
    requested_at: str
    effective_at: str = Field(description="the instant it ends (a metering point, or the request for one "
                                          "never billed)")
    effective_date: str = Field(description="local date")


SubscriptionEnded = Annotated[Union[FeatureRemovedOut, TerminationScheduledOut], Field(discriminator="type")]


class CatalogEventsOut(ResponseModel):
    events: list[CatalogPublishedOut]


class AccountOpenedEventsOut(ResponseModel):
    events: list[AccountOpenedOut]


class AccountSettingsChangedEventsOut(ResponseModel):
    events: list[AccountSettingsChangedOut]


class CustomerProvisionedEventsOut(ResponseModel):
    events: list[CustomerProvisionedOut]


class CustomerRemovedEventsOut(ResponseModel):
    events: list[CustomerRemovedOut]


class FeatureProvisionedEventsOut(ResponseModel):
    events: list[FeatureProvisionedOut]


class BrandReadyEventsOut(ResponseModel):
    events: list[BrandReadyOut]


class RegionActivatedEventsOut(ResponseModel):
    events: list[RegionActivatedOut]


class PartnerOnboardedEventsOut(ResponseModel):
    events: list[PartnerOnboardedOut]


class SubscriptionEndedEventsOut(ResponseModel):
    events: list[SubscriptionEnded] = Field(description="`provisioning.feature.removed` when it ended at once; "
                                                        "`provisioning.termination.scheduled` otherwise")
