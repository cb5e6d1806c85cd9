"""The Account Portal: customers, their features, placement on brands and regions, removals and
terminations, through the Onboarding API (its refusals shown on the form that caused them)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Literal

from fastapi import APIRouter, Depends, Form, Request

from contracts.types import Id
from services.portal import account_views as views, render
from services.portal.account_forms import accounts, attempt, done, flashes, reach
from services.portal.clients import Api, api
from services.portal.refusal_text import Refusal

router = APIRouter()


async def _account_section(client: Api, account: dict) -> dict:
    """One account's customers, brands and regions (three reads at once)."""
    base = f"/v1/accounts/{account['account_id']}"
    customers, brands, regions = await asyncio.gather(
        client.get("provisioning", f"{base}/customers"), client.get("provisioning", f"{base}/brands"),
        client.get("provisioning", f"{base}/regions"))
    return {"account": account, "customers": customers, "brands": brands, "regions": regions}


async def _list_page(request: Request, client: Api, account: str | None, errors: dict | None = None,
                     status: int = 200):
    chosen = [await reach(client, account)] if account else await accounts(client)
    sections = await asyncio.gather(*(_account_section(client, a) for a in chosen))
    return render.page(request, "customers/list.html", {
        "title": "Account Portal", "sections": sections, "errors": errors or {}, "flashes": flashes(request)},
        status)


@router.get("/customers")
async def customer_list(request: Request, account: Id | None = None, client: Api = Depends(api)):
    """The customers of each account the user manages (or of `account`), with its brands and regions."""
    return await _list_page(request, client, account)


async def _new_page(request: Request, client: Api, account_id: str, error: Refusal | None = None,
                    typed: dict | None = None, status: int = 200):
    section = await _account_section(client, await reach(client, account_id))
    return render.page(request, "customers/new.html", {
        "title": f"Provision a customer for {account_id}", **section, "error": error, "typed": typed or {}}, status)


@router.get("/customers/new")
async def new_customer_form(request: Request, account: Id, client: Api = Depends(api)):
    return await _new_page(request, client, account)


@router.post("/customers/new")
async def provision_customer(request: Request, account: Id = Form(), customer_id: str = Form(""),
                             brand_id: str = Form(""), region_ids: list[str] = Form([]), client: Api = Depends(api)):
    await reach(client, account)
    typed = {"customer_id": customer_id.strip(), "brand_id": brand_id, "region_ids": region_ids}
    body = {"account_id": account, "customer_id": typed["customer_id"], "brand_id": brand_id or None,
            "region_ids": region_ids}
    _, error = await attempt(client.post("provisioning", "/v1/customers", body))
    if error:
        return await _new_page(request, client, account, error, typed, error.status)
    return done(request, f"/customers/{typed['customer_id']}", f"Customer {typed['customer_id']} provisioned.")


async def _customer(client: Api, customer_id: str) -> tuple[dict, dict]:
    """The customer and its account, if the user works on that account (else NotFound)."""
    customer = await client.get("provisioning", f"/v1/customers/{customer_id}")
    return customer, await reach(client, customer["account_id"])


async def _detail_page(request: Request, client: Api, customer_id: str, errors: dict | None = None,
                       typed: dict | None = None, status: int = 200):
    customer, account = await _customer(client, customer_id)
    section, features, catalog = await asyncio.gather(
        _account_section(client, account),
        client.get("provisioning", f"/v1/accounts/{account['account_id']}/subscriptions", customer_id=customer_id),
        client.get("provisioning", "/v1/catalog"))
    return render.page(request, "customers/show.html", {
        "title": f"Customer {customer_id}", "customer": customer, "account": account,
        "brands": [b for b in section["brands"] if views.active(b) or b["subscription_id"] == customer["brand_id"]],
        "regions": [r for r in section["regions"] if views.active(r) or r["subscription_id"] in customer["region_ids"]],
        "features": features, "products": views.feature_products(catalog), "active": views.active(customer),
        "errors": errors or {}, "typed": typed or {}, "flashes": flashes(request)}, status)


@router.get("/customers/{customer_id}")
async def customer_page(customer_id: Id, request: Request, client: Api = Depends(api)):
    return await _detail_page(request, client, customer_id)


@router.post("/customers/{customer_id}/placement")
async def place_customer(customer_id: Id, request: Request, brand_id: str = Form(""),
                         region_ids: list[str] = Form([]), client: Api = Depends(api)):
    """Place the customer on a brand and regions (the Onboarding API's placement)."""
    await _customer(client, customer_id)
    _, error = await attempt(client.put("provisioning", f"/v1/customers/{customer_id}/placement",
                                        {"brand_id": brand_id or None, "region_ids": region_ids}))
    if error:
        return await _detail_page(request, client, customer_id, {"placement": error}, status=error.status)
    return done(request, f"/customers/{customer_id}", f"Customer {customer_id} placed.")


@router.post("/customers/{customer_id}/features")
async def add_feature(customer_id: Id, request: Request, part_number: str = Form(""), quantity: str = Form("1"),
                      subscription_id: str = Form(""), client: Api = Depends(api)):
    """Provision a feature for the customer; a blank subscription id gets a fresh one."""
    customer, _ = await _customer(client, customer_id)
    typed = {"part_number": part_number, "quantity": quantity.strip(), "subscription_id": subscription_id.strip()}
    sid = typed["subscription_id"] or f"{customer_id[:60]}-{part_number[:60]}-{secrets.token_hex(3)}"
    body = {"account_id": customer["account_id"], "customer_id": customer_id, "subscription_id": sid,
            "part_number": part_number, "quantity": typed["quantity"]}
    _, error = await attempt(client.post("provisioning", "/v1/features", body))
    if error:
        return await _detail_page(request, client, customer_id, {"feature": error}, typed, error.status)
    return done(request, f"/customers/{customer_id}", f"Feature {part_number} × {typed['quantity']} added ({sid}).")


@router.post("/customers/{customer_id}/removal")
async def remove_customer(customer_id: Id, request: Request, client: Api = Depends(api)):
    await _customer(client, customer_id)
    _, error = await attempt(client.post("provisioning", f"/v1/customers/{customer_id}/removal", {}))
    if error:
        return await _detail_page(request, client, customer_id, {"removal": error}, status=error.status)
    return done(request, f"/customers/{customer_id}", f"Customer {customer_id} removed.")


@router.post("/subscriptions/{subscription_id}/{action}")
async def end_subscription(subscription_id: Id, action: Literal["removal", "termination"], request: Request,
                           client: Api = Depends(api)):
    """Remove a feature (`removal`) or request a termination (`termination`: a brand or region at a
    month end after its minimum term, a feature at once); back to its customer or account."""
    sub = await client.get("provisioning", f"/v1/subscriptions/{subscription_id}")
    await reach(client, sub["account_id"])
    _, error = await attempt(client.post("provisioning", f"/v1/subscriptions/{subscription_id}/{action}", {}))
    errors = {f"sub:{subscription_id}": error} if error else None
    if error and sub["customer_id"]:
        return await _detail_page(request, client, sub["customer_id"], errors, status=error.status)
    if error:
        return await _list_page(request, client, sub["account_id"], errors, error.status)
    back = f"/customers/{sub['customer_id']}" if sub["customer_id"] else f"/customers?account={sub['account_id']}"
    what = "removed" if action == "removal" else "termination requested"
    return done(request, back, f"Subscription {subscription_id}: {what}.")
