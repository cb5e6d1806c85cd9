"""Who calls an HTTP API and what it may touch: bearer API keys, roles and partner trees.

Every route of every service depends on `allow(...)` (a FastAPI `Security` dependency, so OpenAPI
documents the bearer scheme); use cases then ask `may_see` whether a partner's key reaches the
account an object belongs to, and answer 404 when it does not, so that another partner's
invoice, customer or run is never shown to exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared import apikeys, http
from shared import logging as logging_context
from shared.settings import Settings

log = logging.getLogger(__name__)

bearer = HTTPBearer(auto_error=False, scheme_name="ApiKey", bearerFormat="bk_<key id>_<secret>",
                    description="An API key made by `billing keys create`: `Authorization: Bearer bk_...`")

# A partner's tree: its own account and every account below it by parent_account_id. The same
# statement serves every service, each on the `accounts` table of its own schema (search_path).
# UNION (not UNION ALL) and the depth bound stop a cycle, should one ever be stored.
IN_TREE = """
WITH RECURSIVE up (account_id, parent_account_id, depth) AS (
    SELECT account_id, parent_account_id, 0 FROM accounts WHERE account_id = $1
    UNION
    SELECT a.account_id, a.parent_account_id, up.depth + 1
    FROM accounts a JOIN up ON a.account_id = up.parent_account_id
    WHERE up.depth < 64
)
SELECT EXISTS (SELECT 1 FROM up WHERE account_id = $2)
"""
TREE = """
WITH RECURSIVE down (account_id, depth) AS (
    SELECT $1::text, 0
    UNION
    SELECT a.account_id, down.depth + 1
    FROM accounts a JOIN down ON a.parent_account_id = down.account_id
    WHERE down.depth < 64
)
SELECT DISTINCT account_id FROM down
"""


# 401/403 are documented with every other refusal in shared/http.py (ERROR_RESPONSES)


# RFC 6750 section 3: no error code when no credentials came, invalid_request for a broken header
_CHALLENGE = {"missing_credentials": 'Bearer realm="billing"',
              "malformed_credentials": 'Bearer realm="billing", error="invalid_request"'}


class AuthError(HTTPException):
    """A 401 or 403 with a reason code; an HTTPException so it stays one without `install`."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        challenge = _CHALLENGE.get(reason, 'Bearer realm="billing", error="invalid_token"')
        super().__init__(status, detail, {"WWW-Authenticate": challenge} if status == 401 else None)
        self.reason = reason


@dataclass(frozen=True)
class Caller:
    """The key behind a request: its id, role and (partner keys) the account it acts for."""

    key_id: str
    role: str
    account_id: str | None = None

    @property
    def is_partner(self) -> bool:
        return self.role == "partner"


async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
    return http.error(exc.status_code, exc.reason, exc.detail, headers=exc.headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Give an HTTP app its key store (the settings' key file) and its refusal bodies."""
    if not settings.api_keys_file:
        log.warning("%s: no BILLING_API_KEYS_FILE: every API call will be refused", settings.service)
    app.state.api_keys = apikeys.KeyStore(settings.api_keys_file or None)
    app.add_exception_handler(AuthError, _auth_error)


def _presented_token(request: Request) -> str:
    values = request.headers.getlist("authorization")
    if not values:
        raise AuthError(401, "missing_credentials", "send `Authorization: Bearer <API key>`")
    if len(values) > 1:
        raise AuthError(401, "malformed_credentials", "more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "malformed_credentials", "expected `Authorization: Bearer <API key>`")
    return token


async def authenticate(request: Request,
                       _: HTTPAuthorizationCredentials | None = Security(bearer)) -> Caller:
    """The caller of this request, or 401. (HTTPBearer is there for OpenAPI; the header is read
    here so that each refusal gets its own reason code.)"""
    token = _presented_token(request)
    store: apikeys.KeyStore = request.app.state.api_keys
    try:
        key = apikeys.verify(token, store.keys(), datetime.now(timezone.utc))  # keys expire in real time
    except apikeys.KeyRefused as refused:
        raise AuthError(401, refused.reason, refused.detail) from None
    # log lines of this request name the account it is about, else the partner key's own
    logging_context.ACCOUNT.set(request.path_params.get("account_id") or key.account_id)
    return Caller(key.id, key.role, key.account_id)


def allow(*roles: str):
    """A dependency admitting the operator and the named roles; any other valid key gets 403."""
    admitted = {"operator", *roles}

    async def dependency(caller: Caller = Security(authenticate)) -> Caller:
        if caller.role not in admitted:
            raise AuthError(403, "forbidden_role", f"the {caller.role} role may not call this")
        return caller

    return dependency


OPERATOR = allow()


def forbid(reason: str, detail: str) -> AuthError:
    return AuthError(403, reason, detail)


async def may_see(conn: asyncpg.Connection, caller: Caller, account_id: str | None) -> bool:
    """Whether the caller reaches `account_id`: operators and integrations reach every account,
    a partner its own and those below it."""
    if not caller.is_partner:
        return True
    if account_id is None:
        return False
    if account_id == caller.account_id:
        return True
    return bool(await conn.fetchval(IN_TREE, account_id, caller.account_id))


async def tree(conn: asyncpg.Connection, caller: Caller) -> set[str] | None:
    """The accounts a caller reaches (None: all of them)."""
    if not caller.is_partner:
        return None
    return {r["account_id"] for r in await conn.fetch(TREE, caller.account_id)}
