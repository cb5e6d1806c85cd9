"""Events and commands of the provisioning service."""

from __future__ import annotations

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
