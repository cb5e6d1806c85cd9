"""Credit history of prepaid accounts: balance, lifetime estimate, ledger, voucher and threshold forms."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.background import BackgroundTask

from contracts.types import Id
from services.portal import account_views as views, render
from services.portal.account_forms import accounts, attempt, done, flashes, reach
from services.portal.clients import Api, NotFound, api
from services.portal.refusal_text import Refusal

router = APIRouter()
HISTORY_SHOWN = 500  # entries on the page, newest first (the whole history: the CSV below)


@router.get("/credit")
async def credit_index(request: Request, client: Api = Depends(api)):
    """The prepaid accounts the user works on; with just one, straight to its history."""
    prepaid = [a for a in await accounts(client) if a.get("mode") == "prepaid"]
    if len(prepaid) == 1:
        return RedirectResponse(f"/credit/{prepaid[0]['account_id']}", 303)
    return render.page(request, "credit/index.html", {"title": "Credit", "accounts": prepaid})


async def _page(request: Request, client: Api, account_id: str, errors: dict[str, Refusal] | None = None,
                typed: dict[str, str] | None = None, status: int = 200):
    account = await reach(client, account_id)
    try:
        credit = await client.get("prepaid_credit", f"/v1/accounts/{account_id}/credit", limit=HISTORY_SHOWN)
    except NotFound:  # prepaid_credit has not heard of the account yet: no credits so far
        credit = None
    zone = account["time_zone"]
    context = {
        "title": f"Credit history of {account_id}", "account": account, "credit": credit,
        "rows": views.ledger_rows(credit["history"], zone) if credit else [],
        "lots": [{**lot, "expires": views.local_time(lot["expires_at"], zone)}
                 for lot in (credit or {}).get("lots", [])],
        "currency": (credit or {}).get("currency") or account.get("currency", ""),
        "shortfall": views.positive((credit or {}).get("shortfall")),
        "threshold_on": views.positive(account.get("low_balance_threshold")),
        "errors": errors or {}, "typed": typed or {}, "flashes": flashes(request),
    }
    return render.page(request, "credit/show.html", context, status)


@router.get("/credit/{account_id}")
async def credit_page(account_id: Id, request: Request, client: Api = Depends(api)):
    return await _page(request, client, account_id)


@router.get("/credit/{account_id}/history.csv")
async def credit_history_csv(account_id: Id, client: Api = Depends(api)):
    """The whole credit history as CSV (prepaid_credit's), streamed through."""
    await reach(client, account_id)
    upstream = await client.stream("prepaid_credit", f"/v1/accounts/{account_id}/credit/history.csv")
    return StreamingResponse(upstream.aiter_bytes(), media_type="text/csv", background=BackgroundTask(upstream.aclose),
                             headers={"Content-Disposition": f'attachment; filename="{account_id}-credit.csv"'})


@router.post("/credit/{account_id}/voucher")
async def redeem_voucher(account_id: Id, request: Request, code: str = Form(""), client: Api = Depends(api)):
    """Redeem a voucher code; a refusal (unknown, already redeemed, not prepaid) is shown on the form."""
    account = await reach(client, account_id)
    code = code.strip()
    if not code:
        error = Refusal("invalid_voucher", "Enter the voucher's code.", 422)
        return await _page(request, client, account_id, {"voucher": error}, {"code": code}, 422)
    redeemed, error = await attempt(client.post("prepaid_credit", f"/v1/accounts/{account_id}/redemptions",
                                                {"code": code}))
    if error:
        return await _page(request, client, account_id, {"voucher": error}, {"code": code}, error.status)
    return done(request, f"/credit/{account_id}",
                f"Voucher {redeemed['voucher']} redeemed: {redeemed['credits']} credits, expiring "
                f"{views.local_time(redeemed['expires_at'], account['time_zone'])}; balance {redeemed['balance']}.")


@router.post("/credit/{account_id}/threshold")
async def set_threshold(account_id: Id, request: Request, low_balance_threshold: str = Form(""),
                        client: Api = Depends(api)):
    """Set the low-balance threshold (provisioning's account settings; 0 turns the notice off)."""
    await reach(client, account_id)
    value = low_balance_threshold.strip()
    if not value:
        error = Refusal("invalid_request", "Enter an amount such as 50.00 (0 turns the notice off).", 422)
        return await _page(request, client, account_id, {"threshold": error}, {"threshold": value}, 422)
    _, error = await attempt(client.request("PATCH", "provisioning", f"/v1/accounts/{account_id}",
                                            json={"low_balance_threshold": value}))
    if error:
        return await _page(request, client, account_id, {"threshold": error}, {"threshold": value}, error.status)
    return done(request, f"/credit/{account_id}", f"Low-balance threshold set to {value}.")
