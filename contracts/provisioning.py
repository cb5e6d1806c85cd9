"""Events and commands of the provisioning service."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract
from contracts.registry import event


@event("provisioning.feature.provision", 1)
class ProvisionFeatureV1(Contract):
    """Command: provision `quantity` units of a product (by part number) for a billing account."""

    account_id: str
    subscription_id: str
    part_number: str
    quantity: int = Field(default=1, ge=1)
    customer_id: str | None = None
    at: AwareDatetime | None = None  # when it takes effect; default: when received


@event("provisioning.feature.provisioned", 1)
class FeatureProvisionedV1(Contract):
    """A feature subscription started at `at`."""

    account_id: str
    subscription_id: str
    part_number: str
    quantity: int
    customer_id: str | None = None
    at: AwareDatetime


@event("provisioning.feature.removed", 1)
class FeatureRemovedV1(Contract):
    """A feature subscription ended at `at`."""

    account_id: str
    subscription_id: str
    at: AwareDatetime


@event("provisioning.account.opened", 1)
class AccountOpenedV1(Contract):
    """A billing account (a partner, a child partner, or a customer billed directly) now exists.

    `mode` decides settlement: `subscription` accounts are invoiced, `prepaid` ones draw credits.
    `time_zone` (IANA) is fixed at creation: all calendar arithmetic for the account uses it.
    """

    account_id: str
    name: str = ""
    parent_account_id: str | None = None
    time_zone: str = "UTC"
    mode: Literal["subscription", "prepaid"] = "subscription"
    currency: str = "USD"
    payment_terms_days: int = 30
    at: AwareDatetime
