"""Provisioning use cases: one async function per verb, one transaction each:
lock the account -> load what the command touches -> domain rules -> save -> outbox."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from contracts import wrap
from contracts.envelope import Contract, Envelope
from contracts.provisioning import (
    AccountOpenedV1, AccountSettingsChangedV1, ActivateRegionV1, BrandReadyV1, CatalogPublishedV1,
    CustomerProvisionedV1, CustomerRemovedV1, FeatureProvisionedV1, FeatureRemovedV1, MarkBrandReadyV1,
    OnboardPartnerV1, OpenAccountV1, PartnerOnboardedV1, ProvisionCustomerV1, ProvisionFeatureV1, RegionActivatedV1,
    RemoveCustomerV1, RemoveFeatureV1, RequestTerminationV1, TerminationScheduledV1,
)
from contracts.topics import PROVISIONING_EVENTS
from services.provisioning import commands, domain, store
from shared import outbox
from shared.calendar import local_midnight
from shared.refusal import Refused
from shared.settings import Settings

CATALOG_KEY = "catalog"


# HTTP statuses of the reason codes that are not 422
STATUS = {"unknown_account": 404, "unknown_customer": 404, "unknown_product": 404,
          "unknown_subscription": 404, "duplicate_subscription": 409, "duplicate_account": 409,
          "duplicate_customer": 409, "already_ended": 409, "customers_provisioned": 409}


class Rejected(Refused):
    """A refused command: `reason` is a FORMAT.md reason code (or duplicate_account,
    duplicate_customer, invalid_time_zone, invalid_instant, currency_not_in_catalog,
    before_account_opened); nothing changed. Its HTTP status follows the reason (`STATUS`)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail, STATUS.get(reason, 422))


# ------------------------------------------------------------------ accounts and catalogue
async def open_account(conn: asyncpg.Connection, settings: Settings, cmd: OpenAccountV1,
                       now: datetime, cause: Envelope | None = None) -> AccountOpenedV1:
    """Open a billing account (a child partner when it names its parent)."""
    try:
        ZoneInfo(cmd.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Rejected("invalid_time_zone", f"{cmd.time_zone!r} is not an IANA time zone") from None
    at = cmd.at or now
    async with conn.transaction():
        if cmd.parent_account_id and await store.lock_account(conn, cmd.parent_account_id) is None:
            raise Rejected("unknown_account", f"parent account {cmd.parent_account_id} does not exist")
        # An account rating cannot price (no product in its currency) would fail every run it
        # is in: it is refused here instead.
        if not await store.catalog_has_currency(conn, cmd.currency):
            raise Rejected("currency_not_in_catalog", f"no product of the catalogue is priced in {cmd.currency}")
        unknown = await store.unknown_products(conn, list(cmd.price_book.prices) if cmd.price_book else [])
        if unknown:
            raise Rejected("unknown_product", f"the price book names unknown products: {', '.join(unknown[:10])}")
        if not await store.insert_account(conn, cmd.account_id, cmd.name, cmd.parent_account_id,
                                          cmd.time_zone, cmd.mode, cmd.currency, cmd.payment_terms_days, at,
                                          cmd.automatic_runs,
                                          cmd.price_book.model_dump(mode="json") if cmd.price_book else None,
                                          cmd.low_balance_threshold):
            raise Rejected("duplicate_account", f"account {cmd.account_id} exists")
        event = AccountOpenedV1(account_id=cmd.account_id, name=cmd.name,
                                parent_account_id=cmd.parent_account_id, time_zone=cmd.time_zone,
                                mode=cmd.mode, currency=cmd.currency,
                                payment_terms_days=cmd.payment_terms_days,
                                automatic_runs=cmd.automatic_runs, price_book=cmd.price_book,
                                low_balance_threshold=cmd.low_balance_threshold, at=at)
        await _publish(conn, settings, cmd.account_id, [event], now, cause)
    return event


async def change_settings(conn: asyncpg.Connection, settings: Settings, account_id: str,
                          change: domain.SettingsChange, now: datetime) -> AccountSettingsChangedV1:
    """Change an account's low-balance threshold (at once) and/or its mode (at its next metering
    point, domain.switch_mode), announced by one AccountSettingsChangedV1."""
    async with conn.transaction():
        row = await store.lock_account(conn, account_id)
        if row is None:
            raise Rejected("unknown_account", f"account {account_id} does not exist")
        switch = domain.switch_mode(row["mode"], row["pending_mode"], row["pending_at"], row["time_zone"],
                                    change.mode, now)
        threshold = change.low_balance_threshold
        if threshold is None:
            threshold = row["low_balance_threshold"]
        await conn.execute(store.SAVE_SETTINGS, account_id, switch.mode, switch.pending_mode, switch.pending_at,
                           threshold)
        event = AccountSettingsChangedV1(account_id=account_id, low_balance_threshold=change.low_balance_threshold,
                                         mode=change.mode, mode_effective_at=switch.effective_at, at=now)
        await _publish(conn, settings, account_id, [event], now, None)
    return event


async def publish_catalog(conn: asyncpg.Connection, settings: Settings, catalog: CatalogPublishedV1,
                          now: datetime) -> CatalogPublishedV1:
    """Add or update the catalogue's products and announce them (products are never deleted:
    existing subscriptions keep their product's rules)."""
    rows = [(p.part_number, p.kind, p.termination, p.minimum_term_months, p.model_dump_json())
            for p in catalog.products]
    async with conn.transaction():
        if rows:
            await store.upsert_products(conn, rows, catalog.currency, catalog.at)
        await _publish(conn, settings, CATALOG_KEY, [catalog], now, None)
    return catalog


# ------------------------------------------------------------------ the domain's verbs
async def provision_feature(conn, settings, cmd: ProvisionFeatureV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.FeatureProvisioned(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id,
        part_number=cmd.part_number, quantity=cmd.quantity, customer=cmd.customer_id), now, cause)


async def remove_feature(conn, settings, cmd: RemoveFeatureV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.FeatureRemoved(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id), now, cause)


async def request_termination(conn, settings, cmd: RequestTerminationV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.TerminationRequested(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id), now, cause)


async def mark_brand_ready(conn, settings, cmd: MarkBrandReadyV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.BrandReady(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id,
        part_number=cmd.part_number, cloud=cmd.cloud), now, cause)


async def activate_region(conn, settings, cmd: ActivateRegionV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.RegionActivated(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id,
        part_number=cmd.part_number, brands=tuple(cmd.brand_ids)), now, cause)


async def onboard_partner(conn, settings, cmd: OnboardPartnerV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.PartnerOnboarded(
        at=cmd.at or now, account=cmd.account_id, subscription=cmd.subscription_id,
        part_number=cmd.part_number, full_brand=cmd.full_brand_id), now, cause)


async def provision_customer(conn, settings, cmd: ProvisionCustomerV1, now, cause=None,
                             placement: bool | None = False) -> list[Contract]:
    """Create a customer (placement False), place an existing one (True), or either (None)."""
    return await _execute(conn, settings, commands.CustomerProvisioned(
        at=cmd.at or now, account=cmd.account_id, customer=cmd.customer_id,
        brand=cmd.brand_id, regions=tuple(cmd.region_ids)), now, cause, placement=placement)


async def remove_customer(conn, settings, cmd: RemoveCustomerV1, now, cause=None) -> list[Contract]:
    return await _execute(conn, settings, commands.CustomerRemoved(
        at=cmd.at or now, account=cmd.account_id, customer=cmd.customer_id), now, cause)


async def _execute(conn: asyncpg.Connection, settings: Settings, cmd: commands.Command, now: datetime,
                   cause: Envelope | None, placement: bool | None = False) -> list[Contract]:
    async with conn.transaction():
        account_id = cmd.account or await store.account_of(conn, getattr(cmd, "subscription", None),
                                                           getattr(cmd, "customer", None))
        account = await store.lock_account(conn, account_id) if account_id else None
        if account is not None and cmd.at < account["opened_at"]:
            # nothing is billed from before its account existed (no back-billing of decades)
            raise Rejected("before_account_opened", f"{cmd.at.isoformat()} is before account {account_id} "
                                                    f"was opened ({account['opened_at'].isoformat()})")
        state = await _load(conn, cmd, account)
        reason = domain.rejection(state, cmd)
        if reason is not None:
            raise Rejected(reason, _detail(reason, cmd))
        _refuse_outside_domain(cmd, state, placement)
        events = _events(state, domain.apply(state, cmd), account_id)
        await store.save_subscriptions(conn, [_item_row(i) for i in state.items.values()])
        await store.save_customers(conn, [_customer_row(c) for c in state.customers.values()])
        await _publish(conn, settings, account_id, events, now, cause)
    return events


def _refuse_outside_domain(cmd: commands.Command, state: domain.ProvisioningState, placement: bool | None) -> None:
    """Rules the scenario domain leaves to the service (checked on the state before the command):
    customer ids are created once, and no change takes effect before what it changes started."""
    if isinstance(cmd, commands.CustomerProvisioned):
        existing = state.customers.get(cmd.customer)
        if existing is not None and placement is False:
            raise Rejected("duplicate_customer", f"customer {cmd.customer} exists")
        if existing is None and placement is True:
            raise Rejected("unknown_customer", f"customer {cmd.customer} does not exist")
        if existing is not None and existing.account != cmd.account:
            raise Rejected("unknown_customer", f"customer {cmd.customer} is not {cmd.account}'s")
        if existing is not None and existing.removed_at is not None:
            raise Rejected("already_ended", f"customer {cmd.customer} was removed")
    if isinstance(cmd, commands.Ends):
        item = state.items.get(cmd.subscription)
        if item and cmd.at < item.created_at:
            raise Rejected("invalid_instant", f"{cmd.at.isoformat()} is before {item.id} started")


def _detail(reason: str, cmd: commands.Command) -> str:
    subscription, customer = getattr(cmd, "subscription", None), getattr(cmd, "customer", None)
    subject = {"unknown_account": cmd.account, "unknown_customer": customer,
               "unknown_product": getattr(cmd, "part_number", None)}.get(reason) or subscription or customer
    return f"{reason.replace('_', ' ')}: {subject}"


async def _load(conn: asyncpg.Connection, cmd: commands.Command,
                account: asyncpg.Record | None) -> domain.ProvisioningState:
    """The part of the state `cmd` can see: its account, the catalogue, the subscriptions and
    customers it names, and the customers on a brand or region it ends."""
    products = {r["part_number"]: domain.ProductRule(r["part_number"], r["kind"], r["termination"],
                                                     r["minimum_term_months"], r["body"].get("brand"))
                for r in await store.products(conn)}
    ids = domain.named_ids(cmd)
    rows = await store.load_subscriptions(conn, ids)
    fulls = {r["full_brand_id"] for r in rows if r["full_brand_id"]} - ids
    rows += await store.load_subscriptions(conn, fulls) if fulls else []
    customer = getattr(cmd, "customer", None)
    customers = await store.load_customers(conn, [customer] if customer else [])
    if isinstance(cmd, commands.Ends):
        customers += await store.customers_on(conn, [cmd.subscription])
    return domain.ProvisioningState(
        accounts={account["account_id"]: account["time_zone"]} if account else {},
        products=products,
        customers={r["customer_id"]: _customer(r) for r in customers},
        items={r["subscription_id"]: _item(r) for r in rows})


def _events(state: domain.ProvisioningState, accepted: domain.Accepted, account_id: str) -> list[Contract]:
    """The events of an accepted command, from what the domain decided."""
    cmd, started, at = accepted.command, accepted.billing_started, accepted.command.at
    match cmd:
        case commands.CustomerProvisioned():
            c = state.customers[cmd.customer]
            return [CustomerProvisionedV1(account_id=account_id, customer_id=c.id, brand_id=c.brand,
                                          region_ids=list(c.regions), at=at)]
        case commands.CustomerRemoved():
            return [CustomerRemovedV1(account_id=account_id, customer_id=cmd.customer, at=at)]
    item = state.items[cmd.subscription]
    match cmd:
        case commands.FeatureProvisioned():
            return [FeatureProvisionedV1(account_id=account_id, subscription_id=item.id,
                                         part_number=item.part_number, quantity=item.quantity,
                                         customer_id=item.customer, at=at)]
        case commands.PartnerOnboarded():
            return [PartnerOnboardedV1(account_id=account_id, subscription_id=item.id,
                                       part_number=item.part_number, full_brand_id=item.full_brand, at=at)]
        case commands.BrandReady():
            return [BrandReadyV1(account_id=account_id, subscription_id=item.id, part_number=item.part_number,
                                 cloud=cmd.cloud or "commercial", billing_started=started, at=at)]
        case commands.RegionActivated():
            return [RegionActivatedV1(account_id=account_id, subscription_id=item.id, part_number=item.part_number,
                                      brand_ids=sorted(item.brands), billing_started=started, at=at)]
    if item.end is not None:  # removed (or terminated) at once
        return [FeatureRemovedV1(account_id=account_id, subscription_id=item.id, at=item.end)]
    effective = (local_midnight(item.termination_effective, state.accounts[account_id])
                 if item.start is not None else at)
    return [TerminationScheduledV1(account_id=account_id, subscription_id=item.id, part_number=item.part_number,
                                   requested_at=at, effective_at=effective,
                                   effective_date=item.termination_effective)]


async def _publish(conn, settings: Settings, key: str, events: list[Contract], now: datetime,
                   cause: Envelope | None) -> None:
    await outbox.add(conn, settings.topic(PROVISIONING_EVENTS.name), [
        wrap(e, key=key, producer=settings.service, occurred_at=now, cause=cause) for e in events])


# ------------------------------------------------------------------ rows <-> domain objects
def _item(r) -> domain.Item:
    return domain.Item(r["subscription_id"], r["account_id"], r["part_number"], r["role"], r["started_at"],
                       quantity=r["quantity"], start=r["billing_start"], end=r["ended_at"],
                       termination_requested_at=r["termination_requested_at"],
                       termination_effective=r["termination_effective"], clouds=list(r["clouds"]),
                       brands=set(r["brand_ids"]), full_brand=r["full_brand_id"], customer=r["customer_id"])


def _item_row(i: domain.Item) -> tuple:
    return (i.id, i.account, i.part_number, i.quantity, i.customer, i.created_at, i.end, i.role, i.start,
            i.termination_requested_at, i.termination_effective, list(i.clouds), sorted(i.brands),
            i.full_brand)


def _customer(r) -> domain.Customer:
    return domain.Customer(r["customer_id"], r["account_id"], r["brand_id"], tuple(r["region_ids"]),
                           removed_at=r["removed_at"], provisioned_at=r["provisioned_at"])


def _customer_row(c: domain.Customer) -> tuple:
    return (c.id, c.account, c.brand, list(c.regions), c.provisioned_at, c.removed_at)

