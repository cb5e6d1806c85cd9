"""Every service's clock over HTTP: read it, and move a manual one forward (operators only)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.types import Instant
from shared import auth
from shared.clock import ClockBackwards, ManualClock
from shared.http import ERROR_RESPONSES, ErrorBody, error

# operators only: moving a clock runs every account's time-driven work up to the new instant
router = APIRouter(prefix="/v1/ops/clock", tags=["clock"], dependencies=[Depends(auth.OPERATOR)],
                   responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403)})


class NotManual(RuntimeError):
    """The service runs on the system clock, which nobody moves."""


class ClockState(BaseModel):
    """The service's clock: which kind, and the instant it shows."""

    mode: Literal["system", "manual"]
    at: Instant


class ClockMoved(ClockState):
    """The clock after a move; the periodic tasks woken by it have finished one pass each."""

    failed_tasks: list[str] = Field(default_factory=list,
                                    description="periodic tasks whose pass failed (see the service's log "
                                                "and `GET /v1/task-failures`); empty when all went well")


class MoveClock(BaseModel):
    """Where to move the manual clock: an instant at or after the one it shows."""

    model_config = ConfigDict(extra="forbid")

    at: Instant


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: ERROR_RESPONSES[400],
    409: {"model": ErrorBody, "description": "`clock_backwards` (the instant is before the clock's) or "
                                           "`clock_not_manual` (the service runs on the system clock)"},
    422: ERROR_RESPONSES[422],
}


def _state(request: Request) -> ClockState:
    clock = request.app.state.runtime.clock
    return ClockState(mode="manual" if isinstance(clock, ManualClock) else "system", at=clock.now())


@router.get("", summary="The instant this service's clock shows", response_model=ClockState)
async def get_clock(request: Request) -> ClockState:
    return _state(request)


@router.put("", summary="Move this service's manual clock forward and run its time-driven work",
            response_model=ClockMoved, responses=REFUSALS)
async def move_clock(request: Request, body: MoveClock):
    """Only when the service runs with `BILLING_CLOCK=manual`. The clock moves to `at` (forward
    only; the same instant again is allowed), every periodic task of the service is woken, and the
    answer comes once each has finished one pass on the new instant and the events they wrote have
    been published: what was due up to `at` is done in this service when it answers, and its
    effects on other services are on their topics (a caller waits for their consumer offsets)."""
    try:
        failed = await request.app.state.runtime.move_clock(body.at)
    except NotManual as exc:
        return error(409, "clock_not_manual", str(exc))
    except ClockBackwards as exc:
        return error(409, "clock_backwards", str(exc))
    return ClockMoved(**_state(request).model_dump(), failed_tasks=failed)
