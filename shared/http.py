"""The HTTP edge every service shares: one error body, its OpenAPI description, and the handlers
that turn invalid requests (and data PostgreSQL refuses) into that body with a 4xx; the pieces
answers share (response models' base, rows as JSON values, CSV, health)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from shared.logging import bound
from shared.refusal import Refused

log = logging.getLogger(__name__)

MAX_ERRORS = 20  # problems reported per request: a 10,000-item body does not get 10,000 lines back
# Bytes in one request body: a catalogue of 10,000 products is about 3 MB; more is refused unread.
MAX_BODY = 8 * 1024 * 1024


class CsvText(PlainTextResponse):
    """A CSV route's response class (`response_class=CsvText, responses=CSV`): its 200 documented
    as `text/csv` only, not FastAPI's default JSON beside it."""

    media_type = "text/csv"


CSV: dict = {200: {"description": "CSV, one header line", "content": {"text/csv": {"schema": {"type": "string"}}}}}


def row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A database row as an answer's JSON values: instants and days as ISO 8601 text, decimals and
    ids as text, JSON columns (objects, arrays) as they are."""
    return {k: (v.isoformat() if hasattr(v, "isoformat")
                else str(v) if v is not None and not isinstance(v, (int, str, bool, dict, list)) else v)
            for k, v in dict(row).items()}


class ResponseModel(BaseModel):
    """The base of the services' response models (`<Something>Out`, `response_model=`): a response
    model filters what its route answers, so these keep any key they do not list (a key a handler
    adds before its model lists it still reaches the caller). Each lists every key it knows."""

    model_config = ConfigDict(extra="allow")


class HealthOut(ResponseModel):
    """A service's `GET /health` answer: it is up."""

    status: str = Field(examples=["ok"])
    service: str = Field(examples=["invoicing"])


class Problem(BaseModel):
    """One invalid field: where (`loc`, from the request's body, path or query), what is wrong
    (`msg`) and pydantic's error type. The offending value is never echoed back."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every refusal: a reason code (`invalid_request`, `unknown_account`, ...) and a detail,
    a sentence or, for `invalid_request`, the list of invalid fields."""

    reason: str = Field(examples=["invalid_request"])
    detail: str | list[Problem] = ""


def error(status: int, reason: str, detail: str | list[dict] = "",
          headers: dict[str, str] | None = None) -> JSONResponse:
    """The error body every service sends for a refusal."""
    return JSONResponse({"reason": reason, "detail": detail}, status_code=status, headers=headers)


# the JSON error body, also on routes whose 200 is CSV
_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "content": _JSON, "description": text}


# The 4xx every route may answer; given to each router so the OpenAPI documents say what is sent
# (and FastAPI's own 422 schema, which nobody sends, is not added).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Unreadable request: `invalid_request` (a body that is not UTF-8 JSON)"),
    401: _described("No valid API key: `missing_credentials`, `malformed_credentials`, `malformed_key`, "
                    "`unknown_key`, `revoked_key` or `expired_key` (with `WWW-Authenticate: Bearer`)"),
    403: _described("The key's role may not do this: `forbidden_role` or `forbidden_field`"),
    404: _described("Not found: `unknown_account`, `unknown_invoice`, ... (reason codes per service)"),
    409: _described("Conflict with what exists: `duplicate_account`, `payment_id_reused`, ..."),
    413: _described(f"`request_too_large`: a body over {MAX_BODY:,} bytes"),
    422: _described("Invalid request: `invalid_request` with the invalid fields, or a rule's reason code"),
}


def problems(errors: list[dict]) -> list[dict]:
    """Pydantic's errors without their input and context (which may hold the 900 KB value, or an
    exception that is not JSON), at most MAX_ERRORS, messages cut to 300 characters."""
    return [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())],
             "msg": str(e.get("msg", ""))[:300], "type": str(e.get("type", ""))}
            for e in errors[:MAX_ERRORS]]


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    return error(422, "invalid_request", problems(list(exc.errors())))


# Reason codes of the framework's own refusals (an unreadable body, an unknown path or method).
_HTTP_REASONS = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
                 413: "request_too_large", 415: "unsupported_media_type"}


async def _http_refusal(_: Request, exc: HTTPException) -> JSONResponse:
    return error(exc.status_code, _HTTP_REASONS.get(exc.status_code, "refused"), str(exc.detail)[:300],
                 headers=getattr(exc, "headers", None))


def refusal(exc: Refused) -> JSONResponse:
    """The error body of a refusal, with its status."""
    return error(exc.status, exc.reason, exc.detail)


async def _refused(_: Request, exc: Refused) -> JSONResponse:
    return refusal(exc)


async def _invalid_data(request: Request, exc: asyncpg.DataError) -> JSONResponse:
    # The checked types keep bad values out; this is the last line should one slip past them:
    # a value PostgreSQL cannot store (out of range, \u0000 in text) is the caller's input, not a
    # failure of the service.
    log.warning("%s %s: data refused by PostgreSQL: %s", request.method, request.url.path, exc)
    return error(422, "invalid_request", f"a value cannot be stored: {type(exc).__name__}")


class _BodyLimit:
    """Refuses a request whose declared Content-Length is over MAX_BODY before reading it."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.limit:
                await error(413, "request_too_large", f"a body is at most {self.limit} bytes")(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _RequestContext:
    """Log lines written while serving a request carry its correlation id: the caller's
    `X-Correlation-Id` when it is a UUID, else a new one (shared/logging.py). The account is
    bound by shared/auth.py once the key is known."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-correlation-id", b"")
        try:
            correlation_id = UUID(given.decode("ascii", errors="replace")) if given else uuid4()
        except ValueError:
            correlation_id = uuid4()
        with bound(correlation_id=correlation_id):
            await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Give `app` the shared error handlers and body limit (each service's http_app calls this)."""
    app.add_middleware(_BodyLimit)
    app.add_middleware(_RequestContext)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(asyncpg.DataError, _invalid_data)
    app.add_exception_handler(HTTPException, _http_refusal)
    app.add_exception_handler(Refused, _refused)  # every service's refusals, one mapping
