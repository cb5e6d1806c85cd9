"""Rating's subscribers: decode, call one use case."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.platform import UserCountReportedV1
from contracts.provisioning import (
    AccountOpenedV1, AccountSettingsChangedV1, BrandReadyV1, CatalogPublishedV1, FeatureProvisionedV1,
    FeatureRemovedV1, PartnerOnboardedV1, RegionActivatedV1, TerminationScheduledV1,
)
from contracts.rating import RequestBillingRunV1
from services.rating import pending, service

_PROVISIONING = {
    AccountOpenedV1: service.record_account,
    CatalogPublishedV1: service.record_catalog,
    FeatureProvisionedV1: service.record_feature_provisioned,
    FeatureRemovedV1: service.record_feature_removed,
    BrandReadyV1: service.record_brand_ready,
    RegionActivatedV1: service.record_region_activated,
    PartnerOnboardedV1: service.record_partner_onboarded,
    TerminationScheduledV1: service.record_termination,
    AccountSettingsChangedV1: service.record_settings_changed,
}


async def on_provisioning_events(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
    """A batch of provisioning events, in partition order, in one transaction."""
    for envelope, payload in batch:
        use_case = _PROVISIONING.get(type(payload))
        if use_case is not None:  # customers and the rest do not change what rating bills
            await use_case(conn, envelope, payload)
    # facts that were waiting for these accounts (or, with a catalogue, for any product)
    if any(isinstance(p, CatalogPublishedV1) for _, p in batch):
        await pending.release(conn)
    elif opened := [p.account_id for _, p in batch if isinstance(p, AccountOpenedV1)]:
        await pending.release(conn, opened)


async def on_user_counts(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
    await pending.record_user_counts(conn, [(e, p) for e, p in batch if isinstance(p, UserCountReportedV1)])


async def on_usage(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
    """Usage records, redeliveries included (the subscription has no inbox: see app.py)."""
    await pending.record_usage_fast(conn, batch)


async def on_run_request(conn: asyncpg.Connection, envelope: Envelope, payload: Contract) -> None:
    if isinstance(payload, RequestBillingRunV1):
        # facts held for an account or product that has arrived since are applied before the
        # run can read them (the sweep might not have come by yet)
        await pending.release(conn)
        await service.request_run(conn, envelope, payload)
        await conn.execute("SELECT pg_notify(current_schema() || '_runs', '')")
