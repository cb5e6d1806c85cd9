"""Usage reports: a period's usage per day (bar chart and table), its summary, and drill-downs."""

from __future__ import annotations

import asyncio
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


class Period:
    """The period a page shows: the picker's `choice` (None when a field is not a month or date,
    `problem` says which), the `account`, and the picker's context once the accounts are known."""

    def __init__(self, client: Api, picked: Picked) -> None:
        self.today: date = sessions.now().date()
        self.account = picked.account or client.user.account_id
        try:
            self.choice, self.problem = usage_view.choose(picked.kind, picked.month, picked.start, picked.end,
                                                          self.today), None
        except ValueError as e:
            self.choice, self.problem = None, str(e)
        self.shown = self.choice or usage_view.Choice(picked.kind or "month", self.today.strftime("%Y-%m"))

    def context(self, title: str, accounts: list[dict]) -> dict:
        return {"title": title, "accounts": accounts, "account": self.account, "choice": self.shown,
                "problem": self.problem, "kinds": usage_view.KINDS, "months": usage_view.month_options(self.today),
                "query": {"account": self.account, "kind": self.shown.kind, **self.shown.params()}}


async def fetch_report(client: Api, path: str, account: str, choice: Choice | None) -> tuple[dict | None, str | None]:
    """Rating's answer, or why there is none: its refusal of the period (shown beside the picker)."""
    if choice is None:
        return None, None
    try:
        return await client.get("rating", f"/v1/accounts/{account}/usage{path}", **choice.params()), None
    except Refused as refused:
        return None, refused.detail or refused.reason


async def _page(request: Request, client: Api, picked: Picked, title: str, path: str, template: str):
    period = Period(client, picked)
    # the picker's accounts and rating's report at once: the page waits for the slower one only
    accounts, (report, refused) = await asyncio.gather(
        client.accounts(), fetch_report(client, path, period.account, period.choice))
    page = period.context(title, accounts)
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
