"""The dashboard: a period's usage figures (rating), open invoices (invoicing) and credit (prepaid_credit)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from services.portal import render, usage_view
from services.portal.clients import Api, NotFound, api
from services.portal.pages.usage import Period, Picked, fetch_report

router = APIRouter()


async def _or_none(call):
    """An API's answer, or None where it has nothing for the account (404: not invoiced yet, not
    prepaid)."""
    try:
        return await call
    except NotFound:
        return None


@router.get("/dashboard")
async def dashboard(request: Request, picked: Picked = Depends(), client: Api = Depends(api)):
    period = Period(client, picked)
    account = period.account
    # the APIs at once: the page waits for the slowest, not for their sum; a prepaid account's
    # credit (known to be one from the accounts) after them
    accounts, (figures, refused), invoices = await asyncio.gather(
        client.accounts(), fetch_report(client, "/dashboard", account, period.choice),
        _or_none(client.get("invoicing", f"/v1/accounts/{account}/invoices")))
    mode = next((a.get("mode") for a in accounts if a["account_id"] == account), None)
    credit = await _or_none(client.get("prepaid_credit", f"/v1/accounts/{account}/credit", limit=1)) \
        if mode == "prepaid" else None
    page = period.context("Dashboard", accounts)
    error = page["problem"] or refused
    return render.page(request, "dashboard/index.html", {
        **page, "figures": figures, "error": error, "mode": mode, "credit": credit,
        "invoices": usage_view.open_invoices(invoices or [])},
        422 if error else 200)
