"""Disputes: open one on an invoice's lines, follow its working-day deadline and its resolution."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import APIRouter, Depends, Form, Request

from contracts.types import Id
from services.portal import account_views as views, render
from services.portal.account_forms import accounts, attempt, done, flashes, reach
from services.portal.clients import Api, NotFound, api
from services.portal.refusal_text import Refusal

router = APIRouter()


async def _or_empty(call) -> list:
    try:
        return await call
    except NotFound:  # a service that has not heard of the account yet: nothing there so far
        return []


@router.get("/disputes")
async def dispute_list(request: Request, client: Api = Depends(api)):
    """The disputes of every account the user manages, newest first, and the invoices it may dispute."""
    mine = await accounts(client)
    zones = {a["account_id"]: a["time_zone"] for a in mine}
    found = await asyncio.gather(*(_or_empty(client.get("disputes", f"/v1/accounts/{a['account_id']}/disputes"))
                                   for a in mine))
    bills = await asyncio.gather(*(_or_empty(client.get("invoicing", f"/v1/accounts/{a['account_id']}/invoices"))
                                   for a in mine))
    disputes = sorted((d for batch in found for d in batch), key=lambda d: d["received_at"], reverse=True)
    rows = [{**d, "received": views.local_time(d["received_at"], zones[d["account_id"]]),
             "due": views.local_time(d["due_at"], zones[d["account_id"]]), "zone": zones[d["account_id"]],
             "state": views.DISPUTE_STATES.get(d["status"], d["status"])} for d in disputes]
    invoices = sorted((i for batch in bills for i in batch if i["status"] != "paid"),
                      key=lambda i: (i["issue_date"], i["invoice_number"]), reverse=True)
    return render.page(request, "disputes/list.html", {
        "title": "Disputes", "disputes": rows, "invoices": invoices, "flashes": flashes(request)})


async def _form_page(request: Request, client: Api, number: str, error: Refusal | None = None,
                     typed: dict | None = None, status: int = 200):
    invoice = await client.get("invoicing", f"/v1/invoices/{number}")
    await reach(client, invoice["account_id"])
    typed = typed or {"dispute_id": f"d-{number[:100]}-{secrets.token_hex(4)}", "lines": []}
    return render.page(request, "disputes/new.html", {
        "title": f"Dispute invoice {number}", "invoice": invoice, "lines": views.invoice_lines(invoice),
        "disputable": views.disputable(invoice), "error": error, "typed": typed}, status)


@router.get("/disputes/new")
async def new_dispute_form(request: Request, invoice: Id, client: Api = Depends(api)):
    """The dispute form of one invoice: its lines to tick, an amount and a reason. The dispute id
    is made here, so sending the form twice opens one dispute (disputes answers the first)."""
    return await _form_page(request, client, invoice)


@router.post("/disputes/new")
async def open_dispute(request: Request, invoice: Id = Form(), dispute_id: str = Form(""),
                       lines: list[str] = Form([]), amount: str = Form(""), reason: str = Form(""),
                       client: Api = Depends(api)):
    shown = await client.get("invoicing", f"/v1/invoices/{invoice}")
    account = await reach(client, shown["account_id"])
    typed = {"dispute_id": dispute_id, "lines": lines, "amount": amount, "reason": reason}
    offered = views.invoice_lines(shown)
    positions = views.chosen_positions(lines, len(offered))
    disputed = views.dispute_amount(amount, offered, positions or [])
    error = None
    if positions is None:
        error = Refusal("invalid_lines", "Choose lines of this invoice.", 422)
    elif not disputed:
        error = Refusal("invalid_amount", "Tick the disputed lines or enter the amount you dispute.", 422)
    else:
        body = {"dispute_id": dispute_id, "invoice_number": invoice, "amount": disputed, "reason": reason.strip(),
                "lines": positions}
        opened, error = await attempt(client.post("disputes", "/v1/disputes", body))
    if error:
        return await _form_page(request, client, invoice, error, typed, error.status)
    due = views.local_time(opened["due_at"], account["time_zone"])
    return done(request, f"/disputes/{opened['dispute_id']}",
                f"Dispute {opened['dispute_id']} opened for {opened['amount']} {opened['currency']}: "
                f"due by {due}.")


@router.get("/disputes/{dispute_id}")
async def dispute_page(dispute_id: Id, request: Request, client: Api = Depends(api)):
    """A dispute: its lines, deadline and status; once resolved, its credit note and refund."""
    dispute = await client.get("disputes", f"/v1/disputes/{dispute_id}")
    account = await reach(client, dispute["account_id"])
    try:
        invoice = await client.get("invoicing", f"/v1/invoices/{dispute['invoice_number']}")
    except NotFound:
        invoice = None
    lines = views.invoice_lines(invoice) if invoice else []
    zone = account["time_zone"]
    return render.page(request, "disputes/show.html", {
        "title": f"Dispute {dispute_id}", "dispute": dispute, "zone": zone,
        "state": views.DISPUTE_STATES.get(dispute["status"], dispute["status"]),
        "received": views.local_time(dispute["received_at"], zone), "due": views.local_time(dispute["due_at"], zone),
        "resolved": views.local_time(dispute["resolved_at"], zone),
        "lines": [x for x in lines if x.position in dispute["lines"]],
        "resolution": views.resolution(dispute, invoice), "flashes": flashes(request)})
