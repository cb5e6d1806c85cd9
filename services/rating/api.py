"""Rating's HTTP edge: runs and what rating knows of an account (read-only); usage reports and
usage submitted over HTTP are in usage_api.py and ingest.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import Field

from contracts.types import Id, Month
from services.rating import ingest, quarantine, usage_api
from shared import auth, http, task_failures
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

# runs span every account: an operator's view; an account's view is its partner's too
router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)

RUNS = """
SELECT r.run_id, r.month, r.requested_at, r.status, r.error, r.rated_at,
       count(a.account_id) AS accounts_rated, coalesce(sum(a.lines), 0) AS lines
FROM runs r LEFT JOIN account_runs a USING (run_id)
WHERE ($1::text IS NULL OR r.run_id = $1)
GROUP BY r.run_id ORDER BY r.requested_at DESC LIMIT 200
"""
ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1"
ACCOUNT_SUBSCRIPTIONS = """
SELECT s.subscription_id, s.kind, s.part_number, s.quantity, s.started_at, s.ended_at,
       s.termination_requested_at, s.termination_effective, b.through AS billed_through
FROM subscriptions s LEFT JOIN billed_through b USING (subscription_id)
WHERE s.account_id = $1 ORDER BY s.started_at, s.subscription_id
"""
ACCOUNT_RUNS = "SELECT month, run_id, settlement, lines, total FROM account_runs WHERE account_id = $1 ORDER BY month"


class RunOut(http.ResponseModel):
    """A billing run as rating sees it (`RUNS`): instants are ISO 8601 text."""

    run_id: str
    month: str = Field(description="the billed month, `YYYY-MM`")
    requested_at: str
    status: Literal["pending", "rated", "failed"]
    error: str | None = Field(description="why the run failed; null unless `failed`")
    rated_at: str | None = Field(description="when it was rated (or failed); null while `pending`")
    accounts_rated: int = Field(description="accounts the run has rated so far")
    lines: int = Field(description="charge lines of those accounts")


class QuarantinedOfRunOut(http.ResponseModel):
    """An account a run set aside because rating it failed."""

    account_id: str
    reason: str = Field(description="the failure's class: a short, stable code")
    error: str = Field(description="its message, for the operator")
    at: str
    resolved_run: str | None = Field(description="the later run that rated the account; null while open")
    resolved_at: str | None


class RunDetailOut(RunOut):
    quarantined_accounts: int = Field(description="how many accounts the run set aside")
    quarantined: list[QuarantinedOfRunOut] = Field(description="those accounts, by id (the first 1,000)")


class QuarantinedOut(QuarantinedOfRunOut):
    """An account set aside by a run, with the run and month."""

    run_id: str
    month: str = Field(description="`YYYY-MM`")


class AccountSubscriptionOut(http.ResponseModel):
    subscription_id: str
    kind: str
    part_number: str
    quantity: int
    started_at: str
    ended_at: str | None
    termination_requested_at: str | None
    termination_effective: str | None = Field(description="local date (`YYYY-MM-DD`) the termination takes effect")
    billed_through: str | None = Field(description="local date (`YYYY-MM-DD`) billed up to; null before any")


class RatedMonthOut(http.ResponseModel):
    month: str = Field(description="`YYYY-MM`")
    run_id: str = Field(description="the run that rated the month last")
    settlement: str
    lines: int
    total: str = Field(description="the month's total, a decimal as text")


class AccountOut(http.ResponseModel):
    """The account's row as rating keeps it, its subscriptions and its rated months."""

    account_id: str
    parent_account_id: str | None
    time_zone: str
    mode: Literal["subscription", "prepaid"]
    currency: str
    payment_terms_days: int
    opened_at: str
    price_book: dict[str, Any] | None = Field(description="the account's price book as provisioning set it: `id` "
                                                         "and `prices` (part number to unit price, decimal text); "
                                                         "null when it has none")
    subscriptions: list[AccountSubscriptionOut]
    rated_months: list[RatedMonthOut]


@router.get("/runs", summary="Billing runs, newest first, with how many accounts each rated",
            response_model=list[RunOut])
async def runs(request: Request, _: Caller = Depends(auth.OPERATOR)):
    async with request.app.state.runtime.pool.acquire() as conn:
        return [http.row_json(r) for r in await conn.fetch(RUNS, None)]


@router.get("/runs/{run_id}", response_model=RunDetailOut)
async def run(run_id: Id, request: Request, _: Caller = Depends(auth.OPERATOR)):
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch(RUNS, run_id)
        if not rows:
            return http.error(404, "unknown_run", f"no run {run_id}")
        set_aside = await quarantine.of_run(conn, run_id)
        count = await quarantine.count_of_run(conn, run_id) if set_aside else 0
    return {**http.row_json(rows[0]), "quarantined_accounts": count,
            "quarantined": [http.row_json(q) for q in set_aside]}


@router.get("/quarantine", summary="Accounts set aside by runs because rating them failed, with why "
                                   "(open ones; resolved=true adds those a later run rated)",
            response_model=list[QuarantinedOut])
async def quarantined(request: Request, month: Annotated[Month | None, Query()] = None,
                      account: str | None = Query(default=None, pattern=r"^[^\x00-\x1f\x7f]{1,200}$"),
                      resolved: bool = False, _: Caller = Depends(auth.OPERATOR)):
    async with request.app.state.runtime.pool.acquire() as conn:
        return [http.row_json(r) for r in await quarantine.listing(conn, month, account, resolved)]


@router.get("/task-failures", summary="Accounts the prepaid usage debits (task `prepaid_usage`) skip because "
                                      "their data makes the task fail, with the last error",
            response_model=list[task_failures.TaskFailureOut])
async def failures(request: Request, _: Caller = Depends(auth.OPERATOR),
                   task: str | None = Query(default=None, pattern=r"^[a-z_]{1,64}$")):
    async with request.app.state.runtime.pool.acquire() as conn:
        return await task_failures.listing(conn, task)


@router.get("/accounts/{account_id}", summary="An account's subscriptions as rating sees them, and its rated months",
            response_model=AccountOut)
async def account(account_id: Id, request: Request, caller: Caller = Depends(auth.allow("partner"))):
    async with request.app.state.runtime.pool.acquire() as conn:
        found = await conn.fetchrow(ACCOUNT, account_id)
        if found is None or not await auth.may_see(conn, caller, account_id):
            return http.error(404, "unknown_account", f"no account {account_id}")
        return {**http.row_json(found),
                "subscriptions": [http.row_json(r) for r in await conn.fetch(ACCOUNT_SUBSCRIPTIONS, account_id)],
                "rated_months": [http.row_json(r) for r in await conn.fetch(ACCOUNT_RUNS, account_id)]}


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Rating", version="1",
                  description="The platform's one place where prices are computed. Read-only operator view, "
                              "partners' usage reports, and POST /v1/usage for platforms that cannot publish "
                              "usage to Kafka.")
    app.state.runtime = runtime
    app.include_router(router)
    app.include_router(usage_api.router)
    app.include_router(ingest.router)
    http.install(app)
    auth.install(app, runtime.settings)

    @app.get("/health", response_model=http.HealthOut)
    async def health():
        return {"status": "ok", "service": runtime.settings.service}

    return app
