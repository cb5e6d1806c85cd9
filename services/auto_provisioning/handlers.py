"""Auto-provisioning's edges: platform and provisioning subscribers, the metering trigger and a
read of a customer's users."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field

from contracts.envelope import Contract, Envelope
from contracts.platform import RequestMeteringV1
from contracts.provisioning import AccountOpenedV1
from contracts.types import Id, Instant
from services.auto_provisioning import service, store
from shared import auth, http, task_failures
from shared.auth import Caller
from shared.http import ERROR_RESPONSES
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
# the customer's account as this service knows it (its analytics flag, else its users)
CUSTOMER_ACCOUNT = """
SELECT account_id FROM customers WHERE customer_id = $1
UNION ALL SELECT account_id FROM users WHERE customer_id = $1
LIMIT 1
"""


def platform_handler(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
        await service.record_platform_events(conn, runtime.settings, batch)

    return handle


async def on_provisioning_events(conn: asyncpg.Connection, batch: list[tuple[Envelope, Contract]]) -> None:
    for _, payload in batch:
        if isinstance(payload, AccountOpenedV1):
            await service.record_account(conn, payload)


def command_handler(runtime: ServiceRuntime):
    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: Contract) -> None:
        if isinstance(payload, RequestMeteringV1):
            await service.report_user_counts(conn, runtime.settings, payload.at, runtime.clock.now())

    return handle


class MeteringIn(BaseModel):
    at: Instant | None = None


class UserCountOut(http.ResponseModel):
    """A partner's enterprise-voice users at a metering point (the `UserCountReportedV1` published)."""

    account_id: str
    count: int
    at: str = Field(description="the metering point, ISO 8601 instant")


class MeteringOut(http.ResponseModel):
    reported: list[UserCountOut] = Field(description="the counts published by this trigger; empty when each "
                                                     "account's metering point was reported before")


class UserOut(http.ResponseModel):
    """A customer's user as this service last saw it."""

    user_id: str
    present: bool = Field(description="whether the platform's latest event has the user present")
    voice_enabled: bool
    last_event_at: str = Field(description="the event time of the state held, ISO 8601 instant")
    licence: str | None = Field(description="the Insights User subscription held; null when none")
    licence_at: str | None = Field(description="when the held licence started, ISO 8601 instant; null when none")


@router.post("/metering", summary="Report each partner's voice-enabled users for the metering point at or before `at`",
             response_model=MeteringOut)
async def trigger_metering(request: Request, body: MeteringIn | None = None,
                           _: Caller = Depends(auth.OPERATOR)):
    rt: ServiceRuntime = request.app.state.runtime
    now = rt.clock.now()
    async with rt.pool.acquire() as conn:
        reported = await service.report_user_counts(conn, rt.settings, (body.at if body else None) or now, now)
    return {"reported": [r.model_dump(mode="json") for r in reported]}


@router.get("/task-failures", summary="Accounts the metering task skips because their data makes it fail, "
                                      "with the last error", response_model=list[task_failures.TaskFailureOut])
async def failures(request: Request, _: Caller = Depends(auth.OPERATOR)):
    async with request.app.state.runtime.pool.acquire() as conn:
        return await task_failures.listing(conn)


@router.get("/customers/{customer_id}/users", summary="A customer's users, voice flags and licences",
            response_model=list[UserOut])
async def list_users(customer_id: Id, request: Request, caller: Caller = Depends(auth.allow("partner"))):
    async with request.app.state.runtime.pool.acquire() as conn:
        if caller.is_partner and not await auth.may_see(conn, caller,
                                                        await conn.fetchval(CUSTOMER_ACCOUNT, customer_id)):
            # another partner's customer does not exist for this one (an unknown one lists no users)
            return http.error(404, "unknown_customer", f"no customer {customer_id}")
        rows = await store.list_users(conn, customer_id)
    return [{"user_id": r["user_id"], "present": r["present"], "voice_enabled": r["voice"],
             "last_event_at": r["last_at"].isoformat(), "licence": r["licence"],
             "licence_at": r["licence_at"].isoformat() if r["licence_at"] else None} for r in rows]


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Auto-provisioning", version="1")
    app.state.runtime = runtime
    app.include_router(router)
    http.install(app)
    auth.install(app, runtime.settings)
    return app
