"""Provisioning's edges: HTTP routes (the Onboarding API) and the command-topic subscriber."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from contracts import wrap
from contracts.common import CommandRejectedV1
from contracts.envelope import Contract, Envelope
from contracts.provisioning import ProvisionFeatureV1
from contracts.topics import REJECTIONS
from services.provisioning import service
from shared import outbox
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1")


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


@router.post("/features", status_code=201)
async def provision_feature(cmd: ProvisionFeatureV1, request: Request):
    rt = _runtime(request)
    try:
        async with rt.pool.acquire() as conn:
            event = await service.provision_feature(conn, rt.settings, cmd, rt.clock.now())
    except service.Rejected as rej:
        return JSONResponse({"reason": rej.reason, "detail": rej.detail}, status_code=409)
    return event.model_dump(mode="json")


def http_app(runtime: ServiceRuntime) -> FastAPI:
    app = FastAPI(title="Onboarding API (provisioning)", version="1")
    app.state.runtime = runtime
    app.include_router(router)
    return app


def command_handler(runtime: ServiceRuntime):
    """Commands on the topic: the same use cases; a refusal becomes a rejection event."""

    async def handle(conn: asyncpg.Connection, envelope: Envelope, payload: Contract) -> None:
        now = runtime.clock.now()
        try:
            if isinstance(payload, ProvisionFeatureV1):
                await service.provision_feature(conn, runtime.settings, payload, now, cause=envelope)
        except service.Rejected as rej:
            rejection = CommandRejectedV1(command_type=envelope.type, command_id=str(envelope.event_id),
                                          reason=rej.reason, detail=rej.detail,
                                          account_id=envelope.key, command=envelope.payload)
            await outbox.add(conn, runtime.topic(REJECTIONS), [
                wrap(rejection, key=envelope.key, producer=runtime.settings.service,
                     occurred_at=now, cause=envelope)])

    return handle
