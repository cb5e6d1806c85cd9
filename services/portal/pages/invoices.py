"""Invoices: the list of the user's tree, one invoice (lines by customer, how to pay), its PDF."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from contracts.types import Id
from services.portal import render, view
from services.portal.clients import Api, NotFound, api

router = APIRouter()


async def _invoices_of(client: Api, account_id: str) -> list[dict]:
    try:
        return await client.get("invoicing", f"/v1/accounts/{account_id}/invoices")
    except NotFound:  # an account invoicing has not heard of yet: no invoices
        return []


@router.get("/invoices")
async def invoice_list(request: Request, client: Api = Depends(api)):
    accounts = await client.accounts()
    found = await asyncio.gather(*(_invoices_of(client, a["account_id"]) for a in accounts))
    invoices = sorted((i for batch in found for i in batch), key=lambda i: (i["issue_date"], i["invoice_number"]),
                      reverse=True)
    return render.page(request, "invoices/list.html", {"title": "Invoices", "invoices": invoices})


async def _invoice(request: Request, client: Api, number: str) -> dict:
    invoice = await client.get("invoicing", f"/v1/invoices/{number}", group_by="customer")
    return {"title": f"Invoice {number}", "invoice": invoice, "pay": view.how_to_pay(invoice, request.app.state.settings)}


@router.get("/invoices/{number}")
async def invoice_page(number: Id, request: Request, client: Api = Depends(api)):
    return render.page(request, "invoices/show.html", await _invoice(request, client, number))


@router.get("/invoices/{number}/pdf")
async def invoice_pdf(number: Id, request: Request, client: Api = Depends(api)):
    return await render.pdf(request, "invoices/show.html", await _invoice(request, client, number), f"{number}.pdf")
