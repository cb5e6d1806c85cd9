"""Usage reports: a period's usage per day (bar chart and table), its summary, and drill-downs."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from contracts.types import Id
from services.portal import render, sessions, usage_view
from services.portal.clients import Api, Refused, api
from services.portal.usage_view import Choice

router = APIRouter()
render.templates.env.filters["units"] = usage_view.units  # the usage templates' number format


class Picked:
    """The page's query as the picker's GET form sends it: the account, the period's kind, and a
    month or two dates (the fields of the other kinds come empty: checked by usage_view.choose)."""

    def __init__(self, account: Annotated[Id | None, Query()] = None,
                 kind: Annotated[Literal["month", "cycle", "range"] | None, Query()] = None,
                 month: Annotated[str | None, Query(max_length=40)] = None,
                 from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                 to: Annotated[str | None, Query(max_length=40)] = None) -> None:
        self.account, self.kind, self.month, self.start, self.end = account, kind, month, from_, to


async def context(client: Api, picked: Picked, title: str) -> tuple[dict, str, Choice | None]:
    """The picker's context (accounts, months, choice or the `problem` with it), the account shown
    and the period chosen (None when a field is not a month or date)."""
    today: date = sessions.now().date()
    accounts = await client.accounts()
    account = picked.account or client.user.account_id
    try:
        choice, problem = usage_view.choose(picked.kind, picked.month, picked.start, picked.end, today), None
    except ValueError as e:
        choice, problem = None, str(e)
    shown = choice or usage_view.Choice(picked.kind or "month", today.strftime("%Y-%m"))
    return ({"title": title, "accounts": accounts, "account": account, "choice": shown, "problem": problem,
             "kinds": usage_view.KINDS, "months": usage_view.month_options(today),
             "query": {"account": account, "kind": shown.kind, **shown.params()}}, account, choice)


async def fetch_report(client: Api, path: str, account: str, choice: Choice | None) -> tuple[dict | None, str | None]:
    """Rating's answer, or why there is none: its refusal of the period (shown beside the picker)."""
    if choice is None:
        return None, None
    try:
        return await client.get("rating", f"/v1/accounts/{account}/usage{path}", **choice.params()), None
    except Refused as refused:
        return None, refused.detail or refused.reason


async def _page(request: Request, client: Api, picked: Picked, title: str, path: str, template: str):
    page, account, choice = await context(client, picked, title)
    report, refused = await fetch_report(client, path, account, choice)
    error = page["problem"] or refused
    chart = usage_view.chart(report["days"]) if report and "days" in report else None
    return render.page(request, template, {**page, "report": report, "error": error, "chart": chart},
                       422 if error else 200)


@router.get("/usage")
async def usage_page(request: Request, picked: Picked = Depends(), client: Api = Depends(api)):
    return await _page(request, client, picked, "Usage", "", "usage/report.html")


@router.get("/usage/inbound-users")
async def inbound_users(request: Request, picked: Picked = Depends(), client: Api = Depends(api)):
    return await _page(request, client, picked, "Inbound usage per user", "/inbound-users", "usage/users.html")


@router.get("/usage/outbound-numbers")
async def outbound_numbers(request: Request, picked: Picked = Depends(), client: Api = Depends(api)):
    return await _page(request, client, picked, "Outbound usage per fax number", "/outbound-numbers",
                       "usage/numbers.html")
