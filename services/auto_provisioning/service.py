"""Auto-provisioning use cases, one transaction each: a batch of platform events (load the
customers and users it touches -> domain -> save -> licence commands to provisioning), an
account's time zone, and the user counts of a metering point."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from contracts import wrap
from contracts.envelope import Contract, Envelope
from contracts.platform import (
    AnalyticsDisabledV1, AnalyticsEnabledV1, UserAddedV1, UserCountReportedV1, UserRemovedV1,
    UsersSnapshotV1, UserVoiceDisabledV1, UserVoiceEnabledV1,
)
from contracts.provisioning import AccountOpenedV1, ProvisionFeatureV1, RemoveFeatureV1
from contracts.topics import PROVISIONING_COMMANDS, USER_COUNTS
from services.auto_provisioning import domain, store
from shared import outbox, task_failures
from shared.settings import Settings

METERING_TASK = "metering"  # its name in task_failures
_USER_STATE = {UserAddedV1: None, UserRemovedV1: (False, False),
               UserVoiceEnabledV1: (True, True), UserVoiceDisabledV1: (True, False)}


async def record_platform_events(conn: asyncpg.Connection, settings: Settings,
                                 batch: list[tuple[Envelope, Contract]]) -> list[domain.LicenceChange]:
    """Apply a batch of platform events (in any order) and send the licence changes they imply."""
    customers, users = await _load(conn, [p for _, p in batch])
    touched: set[tuple[str, str]] = set()
    changes: list[tuple[Envelope, domain.LicenceChange]] = []
    for envelope, p in batch:
        customer = customers.setdefault(p.customer_id, domain.Customer(p.account_id))
        of_customer = users.setdefault(p.customer_id, {})
        if isinstance(p, (AnalyticsEnabledV1, AnalyticsDisabledV1)):
            ids = list(of_customer) if domain.observe_analytics(customer, isinstance(p, AnalyticsEnabledV1), p.at) else []
        elif isinstance(p, UsersSnapshotV1):
            if p.analytics_enabled is not None:
                domain.observe_analytics(customer, p.analytics_enabled, p.at)
            ids = list(of_customer) if p.analytics_enabled is not None else []
            ids += domain.apply_snapshot(of_customer, {u.user_id: u.voice_enabled for u in p.users}, p.at)
        else:
            present, voice = _USER_STATE[type(p)] or (True, p.voice_enabled)
            user = of_customer.setdefault(p.user_id, domain.User())
            ids = [p.user_id] if domain.observe(user, present, voice, p.at) else []
        for user_id in dict.fromkeys(ids):
            touched.add((p.customer_id, user_id))
            change = domain.reconcile(p.customer_id, customer, user_id, of_customer[user_id], p.at)
            if change:
                changes.append((envelope, change))
    await store.save_customers(conn, [(c, v.account, v.analytics, v.analytics_at, v.analytics_since)
                                      for c, v in customers.items()])
    await store.save_users(conn, [(c, u, customers[c].account, s.present, s.voice, s.last_at, s.present_since,
                                   s.licence, s.licence_at, s.seq)
                                  for c, u in sorted(touched) for s in [users[c][u]]])
    await outbox.add(conn, settings.topic(PROVISIONING_COMMANDS.name), [
        wrap(_command(ch), key=ch.account, producer=settings.service, occurred_at=ch.at, cause=env)
        for env, ch in changes])
    return [ch for _, ch in changes]


def _command(change: domain.LicenceChange) -> Contract:
    if change.action == "provision":
        return ProvisionFeatureV1(account_id=change.account, subscription_id=change.subscription,
                                  part_number=domain.INSIGHTS_USER, quantity=1, customer_id=change.customer,
                                  at=change.at)
    return RemoveFeatureV1(account_id=change.account, subscription_id=change.subscription, at=change.at)


async def _load(conn: asyncpg.Connection, payloads: list[Contract]):
    customer_ids = sorted({p.customer_id for p in payloads})
    whole = sorted({p.customer_id for p in payloads
                    if isinstance(p, (UsersSnapshotV1, AnalyticsEnabledV1, AnalyticsDisabledV1))})
    pairs = sorted({(p.customer_id, p.user_id) for p in payloads if hasattr(p, "user_id")})
    customers = {r["customer_id"]: domain.Customer(r["account_id"], r["analytics"], r["analytics_at"],
                                                   r["analytics_since"])
                 for r in await store.load_customers(conn, customer_ids)}
    users: dict[str, dict[str, domain.User]] = {}
    for r in await store.load_users(conn, pairs, whole):
        users.setdefault(r["customer_id"], {})[r["user_id"]] = domain.User(
            r["present"], r["voice"], r["last_at"], r["present_since"], r["licence"], r["licence_at"], r["seq"])
    return customers, users


async def record_account(conn: asyncpg.Connection, event: AccountOpenedV1) -> None:
    """Remember an account's time zone (its metering points are in it) and its parent (partner keys)."""
    await store.upsert_account(conn, event.account_id, event.time_zone, event.parent_account_id)


async def report_user_counts(conn: asyncpg.Connection, settings: Settings, at: datetime,
                             now: datetime) -> list[UserCountReportedV1]:
    """Publish each partner's enterprise-voice users for its latest metering point at or before
    `at`, once per account and metering point (a repeated trigger publishes nothing new). An
    account whose own data fails (its time zone) is skipped and recorded in task_failures: the
    others are reported."""
    reported, done, failed = [], [], []
    async with conn.transaction():
        for row in await store.voice_counts(conn):
            try:
                point = domain.metering_point(at, row["time_zone"])
            except Exception as exc:  # this account's data: its own failure
                failed.append((row["account_id"], exc))
                continue
            done.append(row["account_id"])
            if await store.insert_count(conn, row["account_id"], point, row["count"], now):
                reported.append(UserCountReportedV1(account_id=row["account_id"], count=row["count"], at=point))
        await task_failures.clear(conn, METERING_TASK, done)
        await task_failures.record(conn, METERING_TASK, failed, now)
        await outbox.add(conn, settings.topic(USER_COUNTS.name), [
            wrap(r, key=r.account_id, producer=settings.service, occurred_at=now) for r in reported])
    return reported
