"""Rating use cases: recording facts (inside the subscriber's transaction) and rating runs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from contracts import wrap
from contracts.envelope import Envelope
from contracts.platform import UserCountReportedV1
from contracts.provisioning import (
    AccountOpenedV1, AccountSettingsChangedV1, BrandReadyV1, CatalogPublishedV1, FeatureProvisionedV1,
    FeatureRemovedV1, PartnerOnboardedV1, RegionActivatedV1, TerminationScheduledV1,
)
from contracts.rating import QUARANTINE_LISTED, BillingRunRatedV1, QuarantinedAccountV1, RequestBillingRunV1
from contracts.topics import RATING_CHARGES
from contracts.usage import UsageRecordedV1
from services.rating import domain, ledger_store, prepaid, quarantine, store
from services.rating.wire import charges_batches, charges_item
from shared import faults, metrics, outbox
from shared.settings import Settings
from shared.transient import TRANSIENT

log = logging.getLogger(__name__)

_YIELD_EVERY = 100  # accounts rated between two turns given to the event loop


# ---------------------------------------------------------------- facts


async def record_account(conn: asyncpg.Connection, envelope: Envelope, e: AccountOpenedV1) -> None:
    await store.upsert_account(conn, e.account_id, e.parent_account_id, e.time_zone, e.mode,
                               e.currency, e.payment_terms_days, e.at,
                               e.price_book.model_dump(mode="json") if e.price_book else None)
    if e.mode == "prepaid":
        await prepaid.add_account(conn, e.account_id, e.time_zone, e.at)


async def record_catalog(conn: asyncpg.Connection, envelope: Envelope, e: CatalogPublishedV1) -> None:
    await store.upsert_products(conn, e.currency, [p.model_dump(mode="json") for p in e.products])


async def record_feature_provisioned(conn: asyncpg.Connection, envelope: Envelope,
                                     e: FeatureProvisionedV1) -> None:
    await store.add_subscription(conn, e.subscription_id, e.account_id, e.part_number, e.quantity,
                                 e.customer_id, e.at, envelope.event_id)


async def record_brand_ready(conn: asyncpg.Connection, envelope: Envelope, e: BrandReadyV1) -> None:
    """Only the first commercial readiness starts billing (provisioning flags it)."""
    if e.billing_started:
        await store.add_subscription(conn, e.subscription_id, e.account_id, e.part_number, 1, None,
                                     e.at, envelope.event_id, "brand")


async def record_region_activated(conn: asyncpg.Connection, envelope: Envelope,
                                  e: RegionActivatedV1) -> None:
    if e.billing_started:
        await store.add_subscription(conn, e.subscription_id, e.account_id, e.part_number, 1, None,
                                     e.at, envelope.event_id, "region")


async def record_partner_onboarded(conn: asyncpg.Connection, envelope: Envelope,
                                   e: PartnerOnboardedV1) -> None:
    await store.add_subscription(conn, e.subscription_id, e.account_id, e.part_number, 1, None,
                                 e.at, envelope.event_id, "pack", e.full_brand_id)


async def record_feature_removed(conn: asyncpg.Connection, envelope: Envelope, e: FeatureRemovedV1) -> None:
    await store.end_subscription(conn, e.subscription_id, e.at)


async def record_settings_changed(conn: asyncpg.Connection, envelope: Envelope,
                                  e: AccountSettingsChangedV1) -> None:
    if e.mode is not None and e.mode_effective_at is not None:
        await prepaid.switch_mode(conn, e.account_id, e.mode, e.mode_effective_at)


async def record_termination(conn: asyncpg.Connection, envelope: Envelope, e: TerminationScheduledV1) -> None:
    await store.schedule_termination(conn, e.subscription_id, e.requested_at, e.effective_date)


async def record_user_count(conn: asyncpg.Connection, envelope: Envelope, e: UserCountReportedV1) -> None:
    await store.add_user_count(conn, e.account_id, e.at, e.count, envelope.event_id)


async def record_usage(conn: asyncpg.Connection, batch: list[tuple[Envelope, UsageRecordedV1]]) -> None:
    """Usage records, set-based; a record id already known is ignored (rated once)."""
    await store.add_usage(conn, [(e.record_id, e.account_id, e.part_number, e.quantity, e.used_at,
                                  e.received_at or env.occurred_at, e.direction, e.group, e.user, e.number)
                                 for env, e in batch])


# ---------------------------------------------------------------- runs


async def request_run(conn: asyncpg.Connection, envelope: Envelope, e: RequestBillingRunV1) -> None:
    """Record the request; the run worker rates it in chunks. A known run id is ignored."""
    if not await store.insert_run(conn, e.run_id, e.month, e.requested_at, e.account_ids, envelope.event_id):
        log.info("run %s already requested: nothing new", e.run_id)


async def rate_next_chunk(pool: asyncpg.Pool, settings: Settings, now: datetime, chunk: int = 2000,
                          partitions: Callable[[], Awaitable[list[int]]] | None = None) -> int:
    """One step of the oldest pending run, in one transaction: plan it into chunks of about
    `chunk` accounts, or rate one chunk nobody else is rating (its charges to the outbox, its
    ledger, its account-run rows and the chunk's done mark commit together), or, once every
    chunk is done, publish the run's summary and mark it rated.

    Any number of workers (tasks of this process, replicas) run this side by side: a chunk is
    claimed with SKIP LOCKED, and the runs themselves go one at a time, oldest request first,
    since an account's later run must see the ledger its earlier run wrote. A crash anywhere
    leaves the step's chunk pending for the next claim. An account whose rating fails is
    quarantined and the chunk goes on without it; a run whose month cannot be rated fails at
    once: neither blocks the runs behind it. Returns the accounts rated (0 for a step that rated
    none), or -1 when this worker has nothing to do now."""
    async with pool.acquire() as conn:
        run = await store.oldest_pending_run(conn)
        if run is None:
            return -1
        if not run["planned"]:
            async with conn.transaction():
                locked = await store.lock_run(conn, run["run_id"])
                if locked is None:
                    return -1  # another worker is planning it: it notifies when done
                if not locked["planned"]:
                    await _plan(conn, settings, locked, chunk, now)
                    await _notify_workers(conn)
            return 0
        parts = await _parts(partitions)  # before the claim: Kafka's metadata away fails nothing half-done
        async with conn.transaction():
            piece = await store.claim_chunk(conn, run["run_id"])
            if piece is not None:
                try:
                    async with conn.transaction():  # a savepoint: a failure undoes this attempt only
                        rated = await _rate_chunk(conn, settings, run, piece, now, parts)
                    faults.point("run-chunk")  # the fault suite's kill mid-run, before the commit
                    return rated
                except TRANSIENT:
                    raise
                except Exception:  # a statement failed for the chunk as a whole: find whose
                    log.warning("run %s: chunk %d failed as a whole; rating it in parts to find whose account fails",
                                run["run_id"], piece["seq"], exc_info=True)
                    return await _rate_chunk_apart(conn, settings, run, piece, now, parts)
        async with conn.transaction():
            locked = await store.lock_run(conn, run["run_id"])
            if locked is None or await store.chunks_left(conn, run["run_id"]):
                return -1  # its last chunks are being rated elsewhere
            await _finish_run(conn, settings, locked, now)
            await _notify_workers(conn)
            return 0


async def _parts(partitions: Callable[[], Awaitable[list[int]]] | None) -> list[int]:
    """rating.charges' partitions (`partitions()`, the producer's view; by default the registry's count)."""
    return sorted(await partitions()) if partitions else list(range(RATING_CHARGES.partitions))


async def _plan(conn: asyncpg.Connection, settings: Settings, run, chunk: int, now: datetime) -> None:
    problem = domain.month_error(run["month"])
    if problem is not None:
        await quarantine.mark_run_failed(conn, run["run_id"], problem, now)
        try:
            summary = BillingRunRatedV1(run_id=run["run_id"], month=run["month"], accounts=0, lines=0,
                                        totals={}, rated_at=now, failure=problem)
        except ValidationError:
            # a month the contract cannot carry (0000-01) came from no valid request (invoicing and
            # the topic both check it): nobody waits for its summary, so the failure stays here
            summary = None
        if summary is not None:
            await _publish_summary(conn, settings, summary, run)
        log.error("run %s failed: %s", run["run_id"], problem)
        return
    chunks = await store.plan_chunks(conn, run, chunk)
    log.info("run %s (%s): planned %d chunks of up to %d accounts", run["run_id"], run["month"], chunks, chunk)


async def _notify_workers(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_notify(current_schema() || '_runs', '')")


async def _rate_chunk(conn: asyncpg.Connection, settings: Settings, run, piece, now: datetime, parts: list[int]) -> int:
    accounts = await store.due_accounts(conn, run, piece)
    rated = await _rate_accounts(conn, settings, run, accounts, now, parts) if accounts else 0
    await store.mark_chunk_done(conn, piece, now, rated)
    if accounts:
        log.info("run %s: chunk %d rated %d accounts", run["run_id"], piece["seq"], rated)
    return rated


async def _rate_chunk_apart(conn: asyncpg.Connection, settings: Settings, run, piece, now: datetime,
                           parts: list[int]) -> int:
    """The chunk in parts, each in a savepoint: a part whose statements fail is halved until the
    failing accounts are alone (their time zone unknown to PostgreSQL, a stored value that does
    not decode), and those are quarantined. k bad accounts cost about 2·k·log2(chunk) attempts,
    not one round of statements per account."""
    rated = await _rate_part(conn, settings, run, piece, await store.chunk_candidates(conn, run, piece), now, parts)
    await store.mark_chunk_done(conn, piece, now, rated)
    return rated


async def _rate_part(conn: asyncpg.Connection, settings: Settings, run, piece, ids: list[str], now: datetime,
                     parts: list[int]) -> int:
    if not ids:
        return 0
    try:
        async with conn.transaction():
            accounts = await store.due_accounts(conn, run, piece, only=ids)
            return await _rate_accounts(conn, settings, run, accounts, now, parts) if accounts else 0
    except TRANSIENT:
        raise
    except Exception as exc:
        if len(ids) > 1:
            half = len(ids) // 2
            return (await _rate_part(conn, settings, run, piece, ids[:half], now, parts)
                    + await _rate_part(conn, settings, run, piece, ids[half:], now, parts))
        log.warning("run %s: account %r quarantined: %s", run["run_id"], ids[0], exc)
        await quarantine.save(conn, run["run_id"], run["month"], [domain.failure(ids[0], exc)], now)
        return 0


async def _rate_accounts(conn: asyncpg.Connection, settings: Settings, run, accounts, now: datetime,
                         parts: list[int]) -> int:
    """Rate `accounts` and save what they rated; those whose rating fails are quarantined. Their
    charges go out in one AccountChargesRatedV2 per partition of rating.charges (`parts`) their
    keys fall on. Returns how many were rated."""
    began = time.perf_counter()
    accounts = await prepaid.modes_in_force(conn, run["month"], accounts)
    facts = await store.load_facts(conn, [a["account_id"] for a in accounts], run["account_ids"] is None)
    loaded = time.perf_counter()
    items, through, units, rated_ids, rows, failures = [], [], [], [], [], []
    for done, r in enumerate(domain.rate_accounts(run["month"], accounts, facts), 1):
        if isinstance(r, domain.AccountFailure):
            failures.append(r)
            continue
        res = r.result
        try:
            item = charges_item(run["run_id"], run["month"], r,
                                run["requested_at"] if r.settlement == "prepaid" else None) if res.lines else None
        except Exception as exc:  # a value the wire cannot carry: this account's own failure
            failures.append(domain.failure(r.account_id, exc))
            continue
        through += list(res.ledger_update.billed_through.items())
        units += [(r.account_id, part, month, n) for (part, month), n in res.ledger_update.usage_units.items()]
        rated_ids += list(res.ledger_update.rated_usage_ids)
        rows.append((r.account_id, r.settlement, r.currency, len(res.lines), res.total))
        if item is not None:
            items.append(item)
        if done % _YIELD_EVERY == 0:
            await asyncio.sleep(0)  # let the outbox relay and the other workers move meanwhile
    await ledger_store.save_ledger(conn, run["month"], through, units, rated_ids, ledger_store.ledgered(facts))
    await store.save_account_runs(conn, run["month"], run["run_id"], rows)
    await quarantine.resolve(conn, run["month"], [row[0] for row in rows], run["run_id"], now)
    if failures:
        await quarantine.save(conn, run["run_id"], run["month"], failures, now)
        for f in failures:
            log.warning("run %s: account %r quarantined: %s: %s", run["run_id"], f.account_id, f.reason, f.error)
    rated = time.perf_counter()
    await outbox.add(conn, settings.topic(RATING_CHARGES.name),
                     charges_batches(items, parts, settings.service, now, run["request_event_id"]))
    log.debug("run %s: %d accounts (load %.3f s, rate %.3f s, write %.3f s)", run["run_id"], len(accounts),
              loaded - began, rated - loaded, time.perf_counter() - rated)
    return len(rows)


async def _finish_run(conn: asyncpg.Connection, settings: Settings, run, now: datetime) -> None:
    totals: dict[str, dict[str, str]] = {}
    accounts = lines = invoice_accounts = prepaid_accounts = 0
    for row in await store.run_summary(conn, run["run_id"]):
        accounts += row["accounts"]
        lines += row["lines"]
        if row["accounts"]:
            totals.setdefault(row["settlement"], {})[row["currency"]] = row["total"]
        if row["settlement"] == "invoice":
            invoice_accounts += row["accounts"]
        else:
            prepaid_accounts += row["accounts"]
    set_aside = await quarantine.of_run(conn, run["run_id"], QUARANTINE_LISTED)
    summary = BillingRunRatedV1(
        run_id=run["run_id"], month=run["month"], accounts=accounts, lines=lines, totals=totals,
        invoice_accounts=invoice_accounts, prepaid_accounts=prepaid_accounts, rated_at=now,
        quarantined_accounts=await quarantine.count_of_run(conn, run["run_id"]) if set_aside else 0,
        quarantined=[QuarantinedAccountV1(account_id=q["account_id"], reason=q["reason"], error=q["error"][:300])
                     for q in set_aside])
    await _publish_summary(conn, settings, summary, run)
    await store.mark_run_rated(conn, run["run_id"], now)
    log.info("run %s (%s) rated: %d accounts, %d lines, %d quarantined", run["run_id"], run["month"], accounts,
             lines, summary.quarantined_accounts)
    # counted once per run, as it is summarised (a rolled-back summary may count twice, rarely)
    metrics.QUARANTINED.labels("rating").inc(summary.quarantined_accounts)


async def _publish_summary(conn: asyncpg.Connection, settings: Settings, summary: BillingRunRatedV1, run) -> None:
    await outbox.add(conn, settings.topic(RATING_CHARGES.name), [
        wrap(summary, key=run["month"], producer=settings.service, occurred_at=summary.rated_at,
             correlation_id=run["request_event_id"])])
