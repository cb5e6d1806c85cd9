"""Provisioning's typed commands: one frozen dataclass per verb, with only the fields it uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Union


@dataclass(frozen=True, kw_only=True)
class _Command:
    """What every command has: when it happens and, where the caller knows it, its account."""

    type: ClassVar[str]  # the scenario event's name (FORMAT.md)
    at: datetime
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class Creates(_Command):
    """A command that creates (or, for brands and regions, extends) a subscription of a product."""

    product_kind: ClassVar[str]  # the kind its product must be
    role: ClassVar[str]  # the role of what it creates
    subscription: str
    part_number: str


@dataclass(frozen=True, kw_only=True)
class PartnerOnboarded(Creates):
    type, product_kind, role = "partner_onboarded", "pack", "pack"
    full_brand: str | None = None


@dataclass(frozen=True, kw_only=True)
class BrandReady(Creates):
    type, product_kind, role = "brand_ready", "recurring", "brand"
    cloud: str | None = None  # only "commercial" starts billing


@dataclass(frozen=True, kw_only=True)
class RegionActivated(Creates):
    type, product_kind, role = "region_activated", "recurring", "region"
    brands: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FeatureProvisioned(Creates):
    type, product_kind, role = "feature_provisioned", "recurring", "feature"
    quantity: int = 1
    customer: str | None = None


@dataclass(frozen=True, kw_only=True)
class CustomerProvisioned(_Command):
    type = "customer_provisioned"
    customer: str
    brand: str | None = None
    regions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CustomerRemoved(_Command):
    type = "customer_removed"
    customer: str


@dataclass(frozen=True, kw_only=True)
class Ends(_Command):
    """A command that ends a subscription."""

    subscription: str


@dataclass(frozen=True, kw_only=True)
class FeatureRemoved(Ends):
    """On a brand, region or pack it is a termination request (FORMAT.md)."""

    type = "feature_removed"


@dataclass(frozen=True, kw_only=True)
class TerminationRequested(Ends):
    type = "termination_requested"


@dataclass(frozen=True, kw_only=True)
class UserCount(_Command):
    type = "user_count"
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class Usage(_Command):
    type = "usage"
    product_kind: ClassVar[str] = "usage"
    part_number: str


Command = Union[PartnerOnboarded, BrandReady, RegionActivated, FeatureProvisioned, CustomerProvisioned,
                CustomerRemoved, FeatureRemoved, TerminationRequested, UserCount, Usage]
COMMANDS: dict[str, type] = {c.type: c for c in Command.__args__}  # by scenario event name
