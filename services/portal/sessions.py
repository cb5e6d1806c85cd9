"""Sessions and CSRF: a signed, HTTP-only, SameSite cookie names a server-side session row.

Starlette's SessionMiddleware signs the cookie (itsdangerous) and bounds its age; the cookie holds
a random session token and the CSRF token. Only the token's SHA-256 is stored, with its expiry,
so signing out (or a row's expiry) ends the session even if the cookie was copied."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

import asyncpg
from fastapi import Request

from services.portal.users import User

INSERT_SESSION = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)"
# the session's user, while the session lasts and the user is not disabled
SESSION_USER = """
SELECT u.* FROM sessions s JOIN users u USING (user_id)
WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL
"""
DELETE_SESSION = "DELETE FROM sessions WHERE token_hash = $1"
DELETE_EXPIRED = "DELETE FROM sessions WHERE expires_at <= $1"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"


class NotSignedIn(Exception):
    """No valid session: pages answer with the sign-in page (app.py's handler)."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token: refused with 403, nothing done."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    # sessions expire in real time, whatever a service's manual clock says
    return datetime.now(timezone.utc)


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (made on first use), for the hidden field of every form."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """App-wide dependency: an unsafe method must carry the session's token in its form."""
    if request.method not in UNSAFE:
        return
    expected = request.session.get("csrf")
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise CsrfRefused()


async def start(conn: asyncpg.Connection, request: Request, user: User, hours: float) -> None:
    """Sign `user` in on this browser: a fresh session token and a fresh CSRF token (no fixation)."""
    token = secrets.token_urlsafe(32)
    at = now()
    await conn.execute(INSERT_SESSION, _hash(token), user.user_id, at, at + timedelta(hours=hours))
    await conn.execute(DELETE_EXPIRED, at)
    request.session.clear()
    request.session.update({"sid": token, "csrf": secrets.token_urlsafe(32)})


async def end(conn: asyncpg.Connection, request: Request) -> None:
    token = request.session.get("sid")
    if token:
        await conn.execute(DELETE_SESSION, _hash(token))
    request.session.clear()


async def user_of(conn: asyncpg.Connection, request: Request) -> User | None:
    """The session's user; its sealed API token is kept on the request for `clients.api`."""
    token = request.session.get("sid")
    if not isinstance(token, str):
        return None
    row = await conn.fetchrow(SESSION_USER, _hash(token), now())
    if row is None:
        return None
    request.state.sealed_token = row["api_token"]
    return User.of(row)


async def current_user(request: Request) -> User:
    """Dependency of every page behind sign-in: the session's user, or NotSignedIn."""
    user = getattr(request.state, "user", None)
    if user is None:
        if not isinstance(request.session.get("sid"), str):
            raise NotSignedIn()  # no session cookie: no database round trip
        async with request.app.state.pool.acquire() as conn:
            user = await user_of(conn, request)
        if user is None:
            raise NotSignedIn()
        request.state.user = user
    return user

