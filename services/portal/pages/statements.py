"""Statements of subscription accounts: month by month, with a PDF and the month's usage as CSV."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from contracts.types import Id, Month
from services.portal import render, view
from services.portal.clients import Api, NotFound, api

router = APIRouter()


def _subscription(account: dict) -> bool:
    return account.get("mode", "subscription") != "prepaid"


async def _invoices(client: Api, account: dict) -> list[dict] | None:
    try:
        return await client.get("invoicing", f"/v1/accounts/{account['account_id']}/invoices")
    except NotFound:  # not known to invoicing yet
        return None


@router.get("/statements")
async def statement_index(request: Request, client: Api = Depends(api)):
    """Each subscription account of the user's tree with its months, from its first invoice."""
    this_month = datetime.now(timezone.utc).strftime("%Y-%m")
    accounts = [a for a in await client.accounts() if _subscription(a)]
    rows = []
    for account, invoices in zip(accounts, await asyncio.gather(*(_invoices(client, a) for a in accounts))):
        if invoices is not None:
            first = min((i["month"] for i in invoices), default=this_month)
            rows.append({"account": account, "months": view.months_between(first, max(this_month, first))})
    return render.page(request, "statements/index.html", {"title": "Statements", "rows": rows})


async def _statement(client: Api, account_id: str, month: str) -> dict:
    statement = await client.get("invoicing", f"/v1/accounts/{account_id}/statements/{month}")
    start, end = view.month_bounds(month)
    return {"title": f"Statement {month} for {account_id}", "statement": statement,
            "previous": view.shift_month(month, -1), "next": view.shift_month(month, 1),
            "period": {"from": start.isoformat(), "to": end.isoformat()}}


@router.get("/statements/{account_id}/{month}")
async def statement_page(account_id: Id, month: Month, request: Request, client: Api = Depends(api)):
    return render.page(request, "statements/show.html", await _statement(client, account_id, month))


@router.get("/statements/{account_id}/{month}/pdf")
async def statement_pdf(account_id: Id, month: Month, request: Request, client: Api = Depends(api)):
    return await render.pdf(request, "statements/show.html", await _statement(client, account_id, month),
                            f"{account_id}-{month}-statement.pdf")


@router.get("/statements/{account_id}/{month}/cdr.csv")
async def statement_cdr(account_id: Id, month: Month, client: Api = Depends(api)):
    """The usage records of the statement's month (days in the account's zone), streamed through."""
    start, end = view.month_bounds(month)
    upstream = await client.stream("invoicing", f"/v1/accounts/{account_id}/usage.csv",
                                   **{"from": start.isoformat(), "to": end.isoformat()})
    return StreamingResponse(upstream.aiter_bytes(), media_type="text/csv", background=BackgroundTask(upstream.aclose),
                             headers={"Content-Disposition": f'attachment; filename="{account_id}-{month}-cdr.csv"'})
