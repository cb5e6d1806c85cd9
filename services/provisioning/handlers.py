"""Provisioning's edges: HTTP routes (the Onboarding API) and the command-topic subscriber."""

from __future__ import annotations

from functools import partial
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts import wrap
from contracts.common import CommandRejectedV1
from contracts.envelope import Contract, Envelope
from contracts.provisioning import (
    ActivateRegionV1, CatalogPublishedV1, MarkBrandReadyV1, OnboardPartnerV1, OpenAccountV1,
    ProductV1, ProvisionCustomerV1, ProvisionFeatureV1, RemoveCustomerV1, RemoveFeatureV1,
    RequestTerminationV1,
)
from contracts.registry import type_of
from contracts.topics import REJECTIONS
from contracts.types import Credits, Currency, Id, Instant
from services.provisioning import api_models as api
from services.provisioning import domain, queries, service
from shared import auth, http, outbox
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# who may call what: the operator everything; a partner its own tree (checked per object below);
# an integration the commands platforms send (customers, features, brands, regions, removals)
OPERATOR = Depends(auth.OPERATOR)
READER = Depends(auth.allow("partner"))
COMMANDER = Depends(auth.allow("partner", "integration"))
PLATFORM = Depends(auth.allow("integration"))
CUSTOMER_ACCOUNT = "SELECT account_id FROM customers WHERE customer_id = $1"
SUBSCRIPTION_ACCOUNT = "SELECT account_id FROM subscriptions WHERE subscription_id = $1"

class CatalogIn(BaseModel):
    """The FORMAT.md `catalog` shape."""

    currency: Currency = "USD"
    products: list[ProductV1] = Field(max_length=10_000)


class When(BaseModel):
    """The instant a removal or termination takes effect (default: now)."""

    at: Instant | None = None


class Placement(BaseModel):
    brand_id: Id | None = None
    region_ids: list[Id] = Field(default=[], max_length=1000)
    at: Instant | None = None


def _rt(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _refused(rej: service.Rejected) -> JSONResponse:
    return http.refusal(rej)


def _shown(events: list[Contract]) -> dict:
    return {"events": [{"type": type_of(type(e))[0], **e.model_dump(mode="json")} for e in events]}


def _hidden(what: str, key: str) -> JSONResponse:
    """What a partner may not see does not exist for it: the same 404 as for an unknown id."""
    return _refused(service.Rejected(f"unknown_{what}", f"no {what} {key}"))


async def _reaches(request: Request, caller: Caller, account_id: str | None, lookup: str | None = None) -> bool:
    """Whether a partner's key reaches the account (or the account `lookup` finds for the id)."""
    if not caller.is_partner:
        return True
    async with _rt(request).pool.acquire() as conn:
        if lookup is not None:
            account_id = await conn.fetchval(lookup, account_id)
        return await auth.may_see(conn, caller, account_id)


async def _run(request: Request, use_case, cmd, **kw):
    rt = _rt(request)
    async with rt.pool.acquire() as conn:  # a Rejected is answered by shared.http's handler
        result = await use_case(conn, rt.settings, cmd, rt.clock.now(), **kw)
    return JSONResponse(_shown(result if isinstance(result, list) else [result]), status_code=201)


async def _read(request: Request, caller: Caller, query, *args, what: str, with_now: bool = False,
                lookup: str | None = None):
    if not await _reaches(request, caller, args[0], lookup):
        return _hidden(what, args[0])
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        found = await query(conn, *args, *((rt.clock.now(),) if with_now else ()))
    if found is None:
        return http.error(404, f"unknown_{what}", f"no {what} {args[0]}")
    return found


# ------------------------------------------------------------------ catalogue
@router.put("/catalog", response_model=api.CatalogEventsOut,
            summary="Load products (added or updated) and publish the catalogue")
async def put_catalog(body: CatalogIn, request: Request, _: Caller = OPERATOR):
    rt = _rt(request)
    catalog = CatalogPublishedV1(currency=body.currency, products=body.products, at=rt.clock.now())
    async with rt.pool.acquire() as conn:
        await service.publish_catalog(conn, rt.settings, catalog, rt.clock.now())
    return _shown([catalog])


@router.get("/catalog", response_model=api.CatalogOut)
async def get_catalog(request: Request, _: Caller = READER):
    async with _rt(request).pool.acquire() as conn:
        return await queries.catalog(conn)


# ------------------------------------------------------------------ accounts
@router.post("/accounts", status_code=201, response_model=api.AccountOpenedEventsOut,
             summary="Open a billing account (partner or child partner)")
async def open_account(cmd: OpenAccountV1, request: Request, caller: Caller = READER):
    if caller.is_partner:  # a partner opens child partners under its tree, at the catalogue's prices
        if cmd.parent_account_id is None:
            raise auth.forbid("forbidden_field", "a partner opens accounts under its own: give parent_account_id")
        if not await _reaches(request, caller, cmd.parent_account_id):
            return _hidden("account", str(cmd.parent_account_id))
        if cmd.price_book is not None:
            raise auth.forbid("forbidden_field", "only an operator sets an account's price book")
    return await _run(request, service.open_account, cmd)


class AccountSettingsIn(BaseModel):
    """What changes: the mode (from the account's next metering point on) and/or the prepaid
    low-balance threshold (at once). A field left out stays as it is."""

    mode: Literal["subscription", "prepaid"] | None = None
    low_balance_threshold: Credits | None = Field(default=None, examples=["300.00"])


@router.patch("/accounts/{account_id}", response_model=api.AccountSettingsChangedEventsOut,
               summary="Switch an account's mode (at its next metering point) or set its low-balance threshold")
async def change_account(account_id: Id, body: AccountSettingsIn, request: Request, caller: Caller = READER):
    if not await _reaches(request, caller, account_id):
        return _hidden("account", account_id)
    rt = _rt(request)
    change = domain.SettingsChange(body.mode, body.low_balance_threshold)
    try:
        async with rt.pool.acquire() as conn:
            event = await service.change_settings(conn, rt.settings, account_id, change, rt.clock.now())
    except service.Rejected as rej:
        return _refused(rej)
    return _shown([event])


@router.get("/accounts", response_model=list[api.AccountOut], response_model_exclude_unset=True)
async def list_accounts(request: Request, caller: Caller = READER):
    async with _rt(request).pool.acquire() as conn:
        accounts = await queries.list_accounts(conn)
        visible = await auth.tree(conn, caller)
    return accounts if visible is None else [a for a in accounts if a["account_id"] in visible]


@router.get("/accounts/{account_id}", response_model=api.AccountDetailOut, response_model_exclude_unset=True)
async def show_account(account_id: Id, request: Request, caller: Caller = READER):
    return await _read(request, caller, queries.show_account, account_id, what="account", with_now=True)


@router.get("/accounts/{account_id}/customers", response_model=list[api.CustomerOut],
            response_model_exclude_unset=True)
async def list_customers(account_id: Id, request: Request, caller: Caller = READER):
    return await _read(request, caller, queries.list_customers, account_id, what="account")


@router.get("/accounts/{account_id}/subscriptions", response_model=list[api.SubscriptionOut],
            response_model_exclude_unset=True)
async def list_subscriptions(account_id: Id, request: Request, part_number: Id | None = None,
                             role: Literal["feature", "brand", "region", "pack"] | None = None,
                             customer_id: Id | None = None, caller: Caller = READER):
    """The account's subscriptions, optionally of one role, part number or customer (its features)."""
    query = partial(queries.list_subscriptions, customer_id=customer_id)
    return await _read(request, caller, query, account_id, role, part_number, what="account", with_now=True)


@router.get("/accounts/{account_id}/{kind}", response_model=list[api.SubscriptionOut],
            response_model_exclude_unset=True, summary="features, brands, regions or packs of an account")
async def list_by_kind(account_id: Id, kind: Literal["features", "brands", "regions", "packs"],
                       request: Request, caller: Caller = READER):
    return await _read(request, caller, queries.list_subscriptions, account_id, queries.ROLES[kind], None,
                       what="account", with_now=True)


# ------------------------------------------------------------------ customers
@router.post("/customers", status_code=201, response_model=api.CustomerProvisionedEventsOut,
             summary="Provision a customer, optionally on a brand and regions")
async def provision_customer(cmd: ProvisionCustomerV1, request: Request, caller: Caller = COMMANDER):
    if not await _reaches(request, caller, cmd.account_id):
        return _hidden("account", cmd.account_id)
    return await _run(request, service.provision_customer, cmd)


@router.put("/customers/{customer_id}/placement", status_code=201,
            response_model=api.CustomerProvisionedEventsOut, summary="Place a customer on a brand and regions")
async def place_customer(customer_id: Id, body: Placement, request: Request, caller: Caller = COMMANDER):
    if not await _reaches(request, caller, customer_id, CUSTOMER_ACCOUNT):
        return _hidden("customer", customer_id)
    rt = _rt(request)
    async with rt.pool.acquire() as conn:
        account = await conn.fetchval(CUSTOMER_ACCOUNT, customer_id)
    if account is None:
        return _refused(service.Rejected("unknown_customer", f"no customer {customer_id}"))
    cmd = ProvisionCustomerV1(account_id=account, customer_id=customer_id, brand_id=body.brand_id,
                              region_ids=body.region_ids, at=body.at)
    return await _run(request, service.provision_customer, cmd, placement=True)


@router.post("/customers/{customer_id}/removal", status_code=201, response_model=api.CustomerRemovedEventsOut,
             summary="Remove a customer")
async def remove_customer(customer_id: Id, request: Request, body: When | None = None,
                          caller: Caller = COMMANDER):
    if not await _reaches(request, caller, customer_id, CUSTOMER_ACCOUNT):
        return _hidden("customer", customer_id)
    return await _run(request, service.remove_customer,
                      RemoveCustomerV1(customer_id=customer_id, at=body.at if body else None))


@router.get("/customers/{customer_id}", response_model=api.CustomerOut, response_model_exclude_unset=True)
async def show_customer(customer_id: Id, request: Request, caller: Caller = READER):
    return await _read(request, caller, queries.show_customer, customer_id, what="customer",
                       lookup=CUSTOMER_ACCOUNT)


# ------------------------------------------------------------------ subscriptions
@router.post("/features", status_code=201, response_model=api.FeatureProvisionedEventsOut,
             summary="Provision a feature by part number and quantity")
async def provision_feature(cmd: ProvisionFeatureV1, request: Request, caller: Caller = COMMANDER):
    if not await _reaches(request, caller, cmd.account_id):
        return _hidden("account", cmd.account_id)
    return await _run(request, service.provision_feature, cmd)


@router.post("/brands", status_code=201, response_model=api.BrandReadyEventsOut,
             summary="A brand is Ready for Customisation on a cloud")
async def brand_ready(cmd: MarkBrandReadyV1, request: Request, _: Caller = PLATFORM):
    return await _run(request, service.mark_brand_ready, cmd)


@router.post("/regions", status_code=201, response_model=api.RegionActivatedEventsOut,
             summary="Activate an Additional Region for named Full Brands")
async def activate_region(cmd: ActivateRegionV1, request: Request, _: Caller = PLATFORM):
    return await _run(request, service.activate_region, cmd)


@router.post("/packs", status_code=201, response_model=api.PartnerOnboardedEventsOut,
             summary="Onboard a partner's user packs")
async def onboard_partner(cmd: OnboardPartnerV1, request: Request, _: Caller = OPERATOR):
    return await _run(request, service.onboard_partner, cmd)


@router.post("/subscriptions/{subscription_id}/removal", status_code=201,
             response_model=api.SubscriptionEndedEventsOut, summary="Remove a feature")
async def remove_feature(subscription_id: Id, request: Request, body: When | None = None,
                         caller: Caller = COMMANDER):
    if not await _reaches(request, caller, subscription_id, SUBSCRIPTION_ACCOUNT):
        return _hidden("subscription", subscription_id)
    return await _run(request, service.remove_feature,
                      RemoveFeatureV1(subscription_id=subscription_id, at=body.at if body else None))


@router.post("/subscriptions/{subscription_id}/termination", status_code=201,
             response_model=api.SubscriptionEndedEventsOut,
             summary="Terminate a brand, region or pack (end of month, minimum term)")
async def request_termination(subscription_id: Id, request: Request, body: When | None = None,
                              caller: Caller = COMMANDER):
    if not await _reaches(request, caller, subscription_id, SUBSCRIPTION_ACCOUNT):
        return _hidden("subscription", subscription_id)
    return await _run(request, service.request_termination,
                      RequestTerminationV1(subscription_id=subscription_id, at=body.at if body else None))


@router.get("/subscriptions/{subscription_id}", response_model=api.SubscriptionOut,
            response_model_exclude_unset=True)
async def show_subscription(subscription_id: Id, request: Request, caller: Caller = READER):
    return await _read(request, caller, queries.show_subscription, subscription_id, what="subscription",
                       with_now=True, lookup=SUBSCRIPTION_ACCOUNT)


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Onboarding API (provisioning)", version="1")
    app.state.runtime = runtime
    app.include_router(router)
    http.install(app)
    auth.install(app, runtime.settings)
    return app


# ------------------------------------------------------------------ the command topic
USE_CASES = {
    OpenAccountV1: service.open_account, ProvisionFeatureV1: service.provision_feature,
    RemoveFeatureV1: service.remove_feature, RequestTerminationV1: service.request_termination,
    MarkBrandReadyV1: service.mark_brand_ready, ActivateRegionV1: service.activate_region,
    OnboardPartnerV1: service.onboard_partner, RemoveCustomerV1: service.remove_customer,
}


def command_handler(runtime: ServiceRuntime):
    """Commands on the topic, a batch per transaction: the same use cases, each in its own
    savepoint; a refusal becomes a rejection event."""

    async def handle(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
        for envelope, payload in batch:
            now = runtime.clock.now()
            try:
                if isinstance(payload, ProvisionCustomerV1):  # on the topic: create or place
                    await service.provision_customer(conn, runtime.settings, payload, now, envelope, None)
                elif type(payload) in USE_CASES:
                    await USE_CASES[type(payload)](conn, runtime.settings, payload, now, envelope)
            except service.Rejected as rej:
                rejection = CommandRejectedV1(command_type=envelope.type, command_id=str(envelope.event_id),
                                              reason=rej.reason, detail=rej.detail,
                                              account_id=envelope.key, command=envelope.payload)
                await outbox.add(conn, runtime.topic(REJECTIONS), [
                    wrap(rejection, key=envelope.key, producer=runtime.settings.service,
                         occurred_at=now, cause=envelope)])

    return handle
