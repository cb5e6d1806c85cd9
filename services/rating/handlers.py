"""Rating's subscribers: decode, call one use case."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from contracts.envelope import Contract, Envelope
from contracts.platform import UserCountReportedV1
from contracts.provisioning import (
    AccountOpenedV1, BrandReadyV1, CatalogPublishedV1, FeatureProvisionedV1, FeatureRemovedV1,
    PartnerOnboardedV1, RegionActivatedV1, TerminationScheduledV1,
)
from contracts.rating import RequestBillingRunV1
from services.rating import pending, service

log = logging.getLogger(__name__)

_PROVISIONING = {
    AccountOpenedV1: service.record_account,
    CatalogPublishedV1: service.record_catalog,
    FeatureProvisionedV1: service.record_feature_provisioned,
    FeatureRemovedV1: service.record_feature_removed,
    BrandReadyV1: service.record_brand_ready,
    RegionActivatedV1: service.record_region_activated,
    PartnerOnboardedV1: service.record_partner_onboarded,
    TerminationScheduledV1: service.record_termination,
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
    await pending.record_usage(conn, batch)


async def on_run_request(conn: asyncpg.Connection, envelope: Envelope, payload: Contract) -> None:
    if isinstance(payload, RequestBillingRunV1):
        # facts held for an account or product that has arrived since are applied before the
        # run can read them (the sweep might not have come by yet)
        await pending.release(conn)
        await service.request_run(conn, envelope, payload)
        await conn.execute("SELECT pg_notify(current_schema() || '_runs', '')")


def pending_sweeper(runtime) -> asyncio.Task:
    """Every BILLING_PENDING_SWEEP_S seconds (default 5): apply held facts whose account or
    product arrived meanwhile, reject those held past BILLING_PENDING_FACTS_S."""
    interval = float(runtime.settings.extra.get("BILLING_PENDING_SWEEP_S", 5))

    async def loop() -> None:
        while True:
            try:
                async with runtime.pool.acquire() as conn:
                    await pending.sweep(conn, runtime.settings, runtime.clock.now())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweeping pending facts failed; retrying")
            await asyncio.sleep(interval)

    return asyncio.create_task(loop(), name="rating-pending-sweeper")


def run_workers(runtime) -> asyncio.Task:
    """Rate pending runs chunk by chunk with BILLING_RUN_WORKERS tasks (default 2: one rates
    while another waits on the database), woken by new requests and by each other's plans and
    summaries, polling once a second as a fallback."""
    settings = runtime.settings
    chunk = int(settings.extra.get("BILLING_RUN_CHUNK", 2000))  # accounts per transaction
    workers = max(1, int(settings.extra.get("BILLING_RUN_WORKERS", 2)))
    wakes = [asyncio.Event() for _ in range(workers)]

    def wake_all(*_: object) -> None:
        for event in wakes:
            event.set()

    async def loop(wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            try:
                rated = await service.rate_next_chunk(runtime.pool, settings, runtime.clock.now(), chunk)
            except Exception:
                log.exception("rating a run chunk failed; retrying")
                await asyncio.sleep(1)
                continue
            if rated < 0:
                try:
                    await asyncio.wait_for(wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

    async def listen() -> None:
        listener = await runtime.pool.acquire()
        await listener.add_listener(f"{settings.db_schema}_runs", wake_all)
        try:
            await asyncio.gather(*(loop(event) for event in wakes))
        finally:
            await runtime.pool.release(listener)

    return asyncio.create_task(listen(), name="rating-run-workers")
