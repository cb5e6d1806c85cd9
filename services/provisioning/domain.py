"""Pure provisioning rules: validate typed commands in the reasons' order, evolve in-memory state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.provisioning.commands import (
    BrandReady, Command, Creates, CustomerProvisioned, CustomerRemoved, Ends, FeatureProvisioned,
    PartnerOnboarded, RegionActivated, TerminationRequested,
)
from services.rating.pricing import metering_point
from services.rating.pricing.packs import pack_start
from services.rating.pricing.terms import termination_effective

# Rejection reasons, in the order they are checked (the first that applies is reported).
REASONS = ("unknown_account", "unknown_customer", "unknown_product", "unknown_subscription",
           "duplicate_subscription", "already_ended", "customers_provisioned")


@dataclass(frozen=True)
class Rejection:
    """A refused command: nothing changes."""

    reason: str


@dataclass(frozen=True)
class ProductRule:
    """What provisioning needs to know of a product."""

    part_number: str
    kind: str  # recurring | pack | usage
    termination: str = "immediate"  # immediate | end_of_month
    minimum_term_months: int = 0
    brand: str | None = None  # full | theme | None (not said): a brand product's type


@dataclass
class Item:
    """A provisioned item: feature, brand, region or user packs.

    `start` is when billing starts (None: not yet: a brand not ready on the commercial cloud, a
    region not available to any brand). Packs derive theirs from onboarding and `full_brand`.
    """

    id: str
    account: str
    part_number: str
    role: str  # feature | brand | region | pack
    created_at: datetime
    quantity: int = 1
    start: datetime | None = None
    end: datetime | None = None
    termination_requested_at: datetime | None = None
    termination_effective: date | None = None
    clouds: list[str] = field(default_factory=list)
    brands: set[str] = field(default_factory=set)
    full_brand: str | None = None
    customer: str | None = None

    @property
    def ended(self) -> bool:
        """Removed, or its termination accepted (effective now or at a later month end)."""
        return self.end is not None or self.termination_effective is not None


@dataclass
class Customer:
    """A partner's customer, on at most one brand and on some regions."""

    id: str
    account: str
    brand: str | None
    regions: tuple[str, ...]
    removed_at: datetime | None = None
    provisioned_at: datetime | None = None


@dataclass
class ProvisioningState:
    """All provisioning state, in memory: accounts (id -> IANA zone), products, customers, items."""

    accounts: dict[str, str]
    products: dict[str, ProductRule]
    customers: dict[str, Customer] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """An accepted command. `termination` is (subscription, effective date) when it ended one in a
    way reported as a termination (any termination request; a removal of a brand, region or pack);
    `billing_started` is whether it started billing the item it names."""

    command: Command
    termination: tuple[str, date] | None = None
    billing_started: bool = False


# The role each referenced id must have: naming a feature (or anything else) where a brand or
# region is expected is an unknown subscription, as is an id that does not exist.
def _references(cmd: Command) -> list[tuple[str, str | None]]:
    match cmd:
        case RegionActivated(brands=brands):
            return [(ref, "brand") for ref in brands]
        case CustomerProvisioned(brand=brand, regions=regions):
            return ([(brand, "brand")] if brand else []) + [(ref, "region") for ref in regions]
        case Ends(subscription=subscription):
            return [(subscription, None)]  # any role
    return []


def named_ids(cmd: Command) -> set[str]:
    """The subscription ids `cmd` names (what a store loads for it)."""
    ids = {ref for ref, _ in _references(cmd)}
    if isinstance(cmd, Creates):
        ids.add(cmd.subscription)
    if isinstance(cmd, PartnerOnboarded) and cmd.full_brand:
        ids.add(cmd.full_brand)
    return ids


def _unknown_customer(state: ProvisioningState, cmd: Command) -> bool:
    customer_id = cmd.customer if isinstance(cmd, (CustomerRemoved, FeatureProvisioned)) else None
    if customer_id is None:
        return False
    customer = state.customers.get(customer_id)
    if customer is None or (cmd.account is not None and customer.account != cmd.account):
        return True
    return isinstance(cmd, FeatureProvisioned) and customer.removed_at is not None


def rejection(state: ProvisioningState, cmd: Command) -> str | None:
    """The first reason, in REASONS order, that refuses `cmd`; None when it is acceptable."""
    if cmd.account is not None and cmd.account not in state.accounts:
        return "unknown_account"
    if _unknown_customer(state, cmd):
        return "unknown_customer"
    kind = getattr(cmd, "product_kind", None)
    if kind is not None:
        product = state.products.get(cmd.part_number)
        if product is None or product.kind != kind:
            return "unknown_product"
    refs = _references(cmd)
    own = [state.items.get(ref) for ref, _ in refs]
    if any(item is None or (cmd.account is not None and item.account != cmd.account)
           or (role is not None and item.role != role) for item, (_, role) in zip(own, refs)):
        return "unknown_subscription"
    existing = state.items.get(cmd.subscription) if isinstance(cmd, (Creates, Ends)) else None
    if isinstance(cmd, Creates) and existing is not None:
        extends = isinstance(cmd, (BrandReady, RegionActivated)) and existing.role == cmd.role \
            and existing.account == cmd.account and existing.part_number == cmd.part_number
        if not extends:
            return "duplicate_subscription"
    if isinstance(cmd, CustomerRemoved) and state.customers[cmd.customer].removed_at is not None:
        return "already_ended"
    if any(item.ended for item in own) or (isinstance(cmd, Creates) and existing is not None and existing.ended):
        return "already_ended"
    if isinstance(cmd, Ends) and existing.role in ("brand", "region") and customers_on(state, existing.id):
        return "customers_provisioned"
    return None


def customers_on(state: ProvisioningState, item_id: str) -> list[str]:
    """Ids of the active customers provisioned on brand or region `item_id`."""
    return [c.id for c in state.customers.values()
            if c.removed_at is None and (c.brand == item_id or item_id in c.regions)]


def handle(state: ProvisioningState, cmd: Command) -> Accepted | Rejection:
    """Validate `cmd` against `state` and, when accepted, apply it (the only mutation)."""
    reason = rejection(state, cmd)
    if reason is not None:
        return Rejection(reason)
    return apply(state, cmd)


def apply(state: ProvisioningState, cmd: Command) -> Accepted:
    """Evolve `state` with a command `rejection` accepted; says what it decided."""
    if isinstance(cmd, Creates):
        return _create(state, cmd)
    match cmd:
        case CustomerProvisioned():
            old = state.customers.get(cmd.customer)  # a placement keeps the customer's creation
            state.customers[cmd.customer] = Customer(cmd.customer, cmd.account, cmd.brand, tuple(cmd.regions),
                                                     provisioned_at=old.provisioned_at if old else cmd.at)
        case CustomerRemoved():
            state.customers[cmd.customer].removed_at = cmd.at
        case Ends():
            item = state.items[cmd.subscription]
            # a removal of a brand, region or pack is a termination request, reported as one
            requested = isinstance(cmd, TerminationRequested) or item.role != "feature"
            return Accepted(cmd, _end(state, item, cmd.at, requested))
    return Accepted(cmd)


def _create(state: ProvisioningState, cmd: Creates) -> Accepted:
    """Create the subscription, or extend a brand (a cloud) or a region (brands)."""
    item = state.items.get(cmd.subscription)
    was_billing = item is not None and item.start is not None
    if item is None:
        item = state.items[cmd.subscription] = Item(cmd.subscription, cmd.account, cmd.part_number,
                                                    cmd.role, cmd.at)
        if isinstance(cmd, FeatureProvisioned):  # billed from its provisioning
            item.quantity, item.customer, item.start = cmd.quantity, cmd.customer, cmd.at
        elif isinstance(cmd, PartnerOnboarded):
            item.full_brand = cmd.full_brand
    if isinstance(cmd, BrandReady):
        item.clouds.append(cmd.cloud or "commercial")
        if cmd.cloud == "commercial" and item.start is None:
            item.start = cmd.at  # only the first commercial readiness starts billing
    elif isinstance(cmd, RegionActivated):
        item.brands.update(cmd.brands)
        if item.start is None and any(_starts_regions(state, brand) for brand in cmd.brands):
            item.start = cmd.at  # its Activation Date
    started = isinstance(cmd, (BrandReady, RegionActivated)) and not was_billing and item.start is not None
    return Accepted(cmd, billing_started=started)


def _starts_regions(state: ProvisioningState, brand_id: str) -> bool:
    """Whether a region made available to brand `brand_id` starts billing (section 3: "the first
    time it is made available to at least one Full Brand"): a Full Brand does, a Theme Brand does
    not, and a brand whose product does not say its type does (FORMAT.md's region_activated:
    "billing starts the first time it has a brand"; the scenario format has no brand type)."""
    product = state.products.get(state.items[brand_id].part_number)
    return product is None or product.brand != "theme"


def _end(state: ProvisioningState, item: Item, at: datetime, requested: bool) -> tuple[str, date] | None:
    """End an item: immediate products at `at`; end_of_month ones per their minimum term."""
    tz = ZoneInfo(state.accounts[item.account])
    product = state.products[item.part_number]
    item.termination_requested_at = at
    start = pack_start_of(state, item) if item.role == "pack" else item.start
    if product.termination == "end_of_month" or start is None:
        item.termination_effective = termination_effective(start, at, product.minimum_term_months, tz)
        return (item.id, item.termination_effective) if requested else None
    item.end = at
    return (item.id, at.astimezone(tz).date()) if requested else None


def pack_start_of(state: ProvisioningState, item: Item) -> datetime | None:
    """When a pack item starts billing (see `pack_start`: onboarding, or the named Full Brand's
    commercial readiness when later; None while that brand is not ready)."""
    brand = state.items.get(item.full_brand) if item.full_brand else None
    return pack_start(item.created_at, brand.start if brand else None, item.full_brand is not None)


# ------------------------------------------------------------------ account settings
@dataclass(frozen=True)
class SettingsChange:
    """What `PATCH /v1/accounts/{id}` asks: a new mode and/or low-balance threshold (None: unchanged)."""

    mode: str | None = None
    low_balance_threshold: object = None


@dataclass(frozen=True)
class ModeSwitch:
    """An account's mode after a change at `at`: `mode` in force now, `pending_mode` from
    `pending_at` on, and when the asked mode takes effect (`effective_at`, None: no mode asked)."""

    mode: str
    pending_mode: str | None
    pending_at: datetime | None
    effective_at: datetime | None


def switch_mode(mode: str, pending_mode: str | None, pending_at: datetime | None, time_zone: str,
                asked: str | None, at: datetime) -> ModeSwitch:
    """Section 8: a switch takes effect at the account's next metering point after `at` (the 1st
    of the next month, 00:00 in its zone). A pending switch whose instant has passed is in force;
    asking for the mode in force cancels a pending switch (effective at the same instant, so the
    services that recorded the pending one record its undoing there)."""
    if pending_mode is not None and pending_at is not None and pending_at <= at:
        mode, pending_mode, pending_at = pending_mode, None, None
    if asked is None:
        return ModeSwitch(mode, pending_mode, pending_at, None)
    local = at.astimezone(ZoneInfo(time_zone)).date()
    month = (local.year + local.month // 12, local.month % 12 + 1)
    effective = metering_point(month, time_zone)
    if asked == mode:
        return ModeSwitch(mode, None, None, effective)
    return ModeSwitch(mode, asked, effective, effective)
