"""Rating's usage reports for partners: per-day totals, summaries, drill-downs and dashboard figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts.types import Id, LocalDate, Month
from services.rating import usage_periods
from services.rating.usage_periods import Period, PeriodError
from shared import auth
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.refusal import Refused

router = APIRouter(prefix="/v1/accounts/{account_id}/usage", responses=ERROR_RESPONSES, tags=["usage reports"])
PARTNER = Depends(auth.allow("partner"))

# Every query reads one account's records in [$2, $3) by the index usage_by_account_time (a
# range scan); days are local days in the account's zone $4, as invoicing's usage CSV counts them.
# One scan gives the per-day totals (bar chart) and the summary by direction, group and product.
# A month of an account with 100,000 records a year reads ~8,000 rows: tens of ms. A daily
# roll-up kept on insert was measured too (docs/portal.md "Usage reports and the dashboard"): a
# year's report 3.5 times faster, storing records 10-25% slower; not worth a second write on
# the ingestion path while a page shows a month.
REPORT = """
SELECT GROUPING(day) = 0 AS by_day, day, direction, user_group, part_number,
       sum(quantity) AS units, count(*) AS records
FROM (SELECT (used_at AT TIME ZONE $4)::date AS day, direction, user_group, part_number, quantity
      FROM usage_records WHERE account_id = $1 AND used_at >= $2 AND used_at < $3) r
GROUP BY GROUPING SETS ((day, direction), (direction, user_group, part_number))
"""
INBOUND_USERS = """
SELECT user_id, user_group, sum(quantity) AS units, count(*) AS records FROM usage_records
WHERE account_id = $1 AND used_at >= $2 AND used_at < $3 AND direction = 'inbound'
GROUP BY user_id, user_group ORDER BY units DESC, user_id NULLS LAST, user_group NULLS LAST LIMIT $4
"""
OUTBOUND_NUMBERS = """
SELECT number, sum(quantity) AS units, count(*) AS records FROM usage_records
WHERE account_id = $1 AND used_at >= $2 AND used_at < $3 AND direction = 'outbound'
GROUP BY number ORDER BY units DESC, number NULLS LAST LIMIT $4
"""
DASHBOARD = """
SELECT coalesce(sum(quantity) FILTER (WHERE direction = 'inbound'), 0) AS inbound,
       coalesce(sum(quantity) FILTER (WHERE direction = 'outbound'), 0) AS outbound,
       count(DISTINCT user_id) AS active_users, count(DISTINCT number) AS numbers, count(*) AS records
FROM usage_records WHERE account_id = $1 AND used_at >= $2 AND used_at < $3
"""
# the user count auto_provisioning last reported before the period's end
USERS_REPORTED = "SELECT count FROM user_counts WHERE account_id = $1 AND at < $2 ORDER BY at DESC LIMIT 1"
ACCOUNT_ZONE = "SELECT time_zone FROM accounts WHERE account_id = $1"
MAX_ROWS = 1000  # drill-down rows answered (largest first); `truncated` says when there were more


class PeriodOut(BaseModel):
    from_: date = Field(alias="from", description="first local day")
    to: date = Field(description="the day after the last (half-open)")
    kind: str = Field(description="`month` (calendar month), `cycle` (billed by that month's run) or `range`")
    name: str | None = Field(None, description="the month of a `month` or `cycle` period")


class Day(BaseModel):
    date: date
    inbound: Decimal
    outbound: Decimal
    unspecified: Decimal = Field(description="units of records without a direction")
    records: int


class Totals(BaseModel):
    inbound: Decimal
    outbound: Decimal
    unspecified: Decimal
    records: int


class SummaryRow(BaseModel):
    direction: str | None
    group: str | None
    part_number: str
    units: Decimal
    records: int


class Report(BaseModel):
    account_id: str
    time_zone: str
    period: PeriodOut
    days: list[Day]
    totals: Totals
    summary: list[SummaryRow] = Field(description="by direction, group and product, largest first")


class UserRow(BaseModel):
    user: str | None
    group: str | None
    units: Decimal
    records: int


class NumberRow(BaseModel):
    number: str | None
    units: Decimal
    records: int


class InboundUsers(BaseModel):
    account_id: str
    period: PeriodOut
    users: list[UserRow]
    truncated: bool


class OutboundNumbers(BaseModel):
    account_id: str
    period: PeriodOut
    numbers: list[NumberRow]
    truncated: bool


class Dashboard(BaseModel):
    account_id: str
    time_zone: str
    period: PeriodOut
    inbound: Decimal = Field(description="units (pages) received in the period")
    outbound: Decimal = Field(description="units (pages) sent in the period")
    records: int
    active_users: int = Field(description="distinct users with usage in the period")
    users_reported: int | None = Field(description="the user count last reported before the period's end")
    numbers: int = Field(description="distinct fax numbers with usage in the period")


async def period_query(month: Annotated[Month | None, Query(description="a calendar month")] = None,
                       cycle: Annotated[Month | None, Query(description="the billing cycle invoiced in this "
                                                                       "month: the previous month's usage")] = None,
                       from_: Annotated[LocalDate | None, Query(alias="from", description="first day")] = None,
                       to: Annotated[LocalDate | None, Query(description="day after the last")] = None) -> Period:
    try:
        return usage_periods.resolve(month, cycle, from_, to)
    except PeriodError as e:
        raise Refused("invalid_period", str(e), 422) from None


PERIOD = Depends(period_query)


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut.model_validate({"from": period.start, "to": period.end, "kind": period.kind, "name": period.name})


async def _zone(conn: asyncpg.Connection, caller: Caller, account_id: str) -> str:
    """The account's billing time zone; 404 for an account unknown or outside a partner's tree."""
    zone = await conn.fetchval(ACCOUNT_ZONE, account_id)
    if zone is None or not await auth.may_see(conn, caller, account_id):
        raise Refused("unknown_account", f"no account {account_id}", 404)
    return zone


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.runtime.pool


@router.get("", response_model=Report, summary="Usage over a period: per local day, totals, and a summary by "
                                                 "direction, group and product")
async def report(account_id: Id, request: Request, caller: Caller = PARTNER, period: Period = PERIOD):
    async with _pool(request).acquire() as conn:
        zone = await _zone(conn, caller, account_id)
        rows = await conn.fetch(REPORT, account_id, *period.bounds(zone), zone)
    days = usage_periods.per_day(period, [(r["day"], r["direction"], r["units"], r["records"])
                                          for r in rows if r["by_day"]])
    summary = sorted(({"direction": r["direction"], "group": r["user_group"], "part_number": r["part_number"],
                       "units": r["units"], "records": r["records"]} for r in rows if not r["by_day"]),
                     key=lambda s: (-s["units"], s["direction"] or "~", s["group"] or "~", s["part_number"]))
    return {"account_id": account_id, "time_zone": zone, "period": _period_out(period), "days": days,
            "totals": usage_periods.totals(days), "summary": summary}


@router.get("/inbound-users", response_model=InboundUsers,
            summary="Inbound usage per user (and group) over a period, largest first")
async def inbound_users(account_id: Id, request: Request, caller: Caller = PARTNER, period: Period = PERIOD):
    async with _pool(request).acquire() as conn:
        zone = await _zone(conn, caller, account_id)
        rows = await conn.fetch(INBOUND_USERS, account_id, *period.bounds(zone), MAX_ROWS + 1)
    return {"account_id": account_id, "period": _period_out(period), "truncated": len(rows) > MAX_ROWS,
            "users": [{"user": r["user_id"], "group": r["user_group"], "units": r["units"], "records": r["records"]}
                      for r in rows[:MAX_ROWS]]}


@router.get("/outbound-numbers", response_model=OutboundNumbers,
            summary="Outbound usage per fax number over a period, largest first")
async def outbound_numbers(account_id: Id, request: Request, caller: Caller = PARTNER, period: Period = PERIOD):
    async with _pool(request).acquire() as conn:
        zone = await _zone(conn, caller, account_id)
        rows = await conn.fetch(OUTBOUND_NUMBERS, account_id, *period.bounds(zone), MAX_ROWS + 1)
    return {"account_id": account_id, "period": _period_out(period), "truncated": len(rows) > MAX_ROWS,
            "numbers": [{"number": r["number"], "units": r["units"], "records": r["records"]}
                        for r in rows[:MAX_ROWS]]}


@router.get("/dashboard", response_model=Dashboard,
            summary="Usage figures of the dashboard: pages in and out, users, numbers over a period")
async def dashboard(account_id: Id, request: Request, caller: Caller = PARTNER, period: Period = PERIOD):
    async with _pool(request).acquire() as conn:
        zone = await _zone(conn, caller, account_id)
        start, end = period.bounds(zone)
        figures = await conn.fetchrow(DASHBOARD, account_id, start, end)
        users = await conn.fetchval(USERS_REPORTED, account_id, end)
    return {"account_id": account_id, "time_zone": zone, "period": _period_out(period), **dict(figures),
            "users_reported": users}
