"""Every service's dead letters over HTTP: list, show, redrive once, discard (one shared router)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from contracts.registry import redrive_topic
from shared import auth, dead_letters
from shared.http import ERROR_RESPONSES, ErrorBody, ResponseModel

MAX_ID = 2**63 - 1  # bigserial: a larger id can only be unknown, and must not reach asyncpg
# who acted: an operator's name or a key's label; printable, no control characters
ACTOR = r"^[^\x00-\x1f\x7f]{1,100}$"

# operators only: dead letters hold any account's payloads
router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"], dependencies=[Depends(auth.OPERATOR)],
                   responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403)})


class Action(BaseModel):
    """Who redrives or discards, and why (kept on the dead letter)."""

    by: str = Field(default="operator", pattern=ACTOR)
    note: str | None = Field(default=None, max_length=1000, pattern=r"^[^\x00]*$")


class DeadLetterSummaryOut(ResponseModel):
    """A dead letter as listed: where the message came from, why its consumer gave up on it, and
    what an operator did with it (shared/dead_letters.py `_summary`)."""

    id: int
    state: Literal["dead", "redriven", "discarded"] = Field(
        description="`dead` until an operator redrives or discards it")
    consumer: str = Field(description="the subscriber that gave up on the message")
    topic: str = Field(description="the source topic's physical name")
    partition: int
    offset: int
    key: str | None = Field(description="the record's key as text; null for a record without a key")
    event_id: str | None = Field(description="the envelope's event id (a UUID), when the message decoded")
    event_type: str | None = Field(description="the envelope's event type, when the message decoded")
    error: str = Field(description="why the consumer gave up (at most 4,000 characters)")
    recorded_at: str = Field(description="ISO 8601 instant")
    state_at: str | None = Field(description="ISO 8601 instant of the redrive or discard; null while `dead`")
    state_by: str | None = Field(description="who redrove or discarded it")
    note: str | None
    redrive_of: int | None = Field(description="the dead letter this one is a failed redrive of")
    payload_bytes: int | None = Field(description="the payload's size; null for a record without a value")


class DeadLetterPageOut(ResponseModel):
    """One page of dead letters, newest first."""

    items: list[DeadLetterSummaryOut]
    next_before: int | None = Field(description="`before` for the next page; null on the last page")


class DeadLetterOut(DeadLetterSummaryOut):
    """One dead letter with its payload and, once redriven, what became of the redrive."""

    payload_encoding: Literal["json", "text", "base64", "none"] = Field(
        description="`json`: the payload parsed; `text`: UTF-8 that is not JSON (or nested too deep); "
                    "`base64`: other bytes; `none`: a record without a value")
    payload: Any = Field(description="the message's value as `payload_encoding` says: any JSON value, a "
                                     "string, or null")
    retried_as: list[int] = Field(default_factory=list,
                                  description="only once `redriven` (absent otherwise): the dead letters its "
                                              "redrive became, oldest first")
    outcome: Literal["applied", "failed_again", "pending"] = Field(
        default=None, description="only once `redriven` (absent otherwise, never null): `applied` (the "
                                  "consumer took it), `failed_again` (see `retried_as`) or `pending`")


REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "`unknown_dead_letter`"},
    409: {"model": ErrorBody, "description": "`already_redriven`, `already_discarded`, `empty_payload` "
                                           "or `no_consumer`"},
}
DeadLetterId = Annotated[int, Path(ge=1, le=MAX_ID, description="the dead letter's id")]


@router.get("", summary="Dead letters of this service, newest first", response_model=DeadLetterPageOut)
async def list_dead_letters(
    request: Request,
    state: Literal["dead", "redriven", "discarded"] | None = None,
    topic: str | None = Query(default=None, max_length=249, pattern=r"^[A-Za-z0-9._-]+$",
                              description="source topic (its registry name)"),
    limit: int = Query(default=50, ge=1, le=500),
    before: int | None = Query(default=None, ge=1, le=MAX_ID,
                               description="the previous page's `next_before`"),
):
    runtime = request.app.state.runtime
    topics = [topic, runtime.settings.topic(topic)] if topic else None
    async with runtime.pool.acquire() as conn:
        return await dead_letters.list_page(conn, state, topics, before, limit)


# exclude_unset: `retried_as` and `outcome` stay absent on a dead letter not redriven, as before
@router.get("/{dead_letter_id}", summary="One dead letter with its payload (JSON, text or base64)",
            responses=REFUSALS, response_model=DeadLetterOut, response_model_exclude_unset=True)
async def show_dead_letter(request: Request, dead_letter_id: DeadLetterId):
    async with request.app.state.runtime.pool.acquire() as conn:  # refusals: shared.http's handler
        return await dead_letters.show(conn, dead_letter_id)


@router.post("/{dead_letter_id}/redrive", status_code=202, responses=REFUSALS, response_model=DeadLetterOut,
             response_model_exclude_unset=True,
             summary="Send the message once more to the consumer that gave up on it")
async def redrive_dead_letter(request: Request, dead_letter_id: DeadLetterId,
                              action: Action | None = Body(default=None)):
    """Accepted: the original bytes leave through the outbox on this service's redrive topic and
    the dead letter is `redriven` (a second redrive is refused). `GET` it later for the outcome:
    applied, or failed again as a new dead letter."""
    return await _act(request, dead_letter_id, action or Action(), redrive=True)


@router.post("/{dead_letter_id}/discard", responses=REFUSALS, response_model=DeadLetterOut,
             response_model_exclude_unset=True,
             summary="Drop the message on purpose: it can no longer be redriven")
async def discard_dead_letter(request: Request, dead_letter_id: DeadLetterId,
                              action: Action | None = Body(default=None)):
    return await _act(request, dead_letter_id, action or Action(), redrive=False)


async def _act(request: Request, dead_letter_id: int, action: Action, redrive: bool):
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn:  # refusals: shared.http's handler
        if redrive:
            topic = runtime.settings.topic(redrive_topic(runtime.settings.service))
            await dead_letters.redrive(conn, dead_letter_id, topic, runtime.consumers, now,
                                       action.by, action.note)
        else:
            await dead_letters.discard(conn, dead_letter_id, now, action.by, action.note)
        return await dead_letters.show(conn, dead_letter_id)
