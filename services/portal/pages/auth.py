"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from services.portal import render, sessions, users
from services.portal.throttle import Throttle
from services.portal.users import User

router = APIRouter()
# five failures for one address; many more from one client address, which a whole office behind
# one NAT may share (a guesser spraying many addresses from one host is stopped there)
by_email = Throttle(max_failures=5)
by_client = Throttle(max_failures=50)


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another host."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/invoices"
    return target


@router.get("/")
async def home(_: User = Depends(sessions.current_user)):
    return RedirectResponse("/invoices", 303)


@router.get("/login")
async def login_form(request: Request, next: str | None = None):
    return render.page(request, "login.html", {"title": "Sign in", "next": _safe_next(next)})


@router.post("/login")
async def login(request: Request, email: Annotated[str, Form(max_length=320)],
                password: Annotated[str, Form(max_length=1000)], next: Annotated[str, Form(max_length=2000)] = ""):
    now = sessions.now()
    address = [users.normal_email(email)]
    client = [request.client.host if request.client else "-"]
    context = {"title": "Sign in", "next": _safe_next(next), "email": email}
    if (wait := by_email.blocked_for(address, now) or by_client.blocked_for(client, now)) is not None:
        minutes = max(1, round(wait.total_seconds() / 60))
        return render.page(request, "login.html", {**context, "error":
                           f"Too many failed sign-ins: try again in {minutes} minute(s)."}, 429)
    async with request.app.state.pool.acquire() as conn:
        user = await users.authenticate(conn, email, password)
        if user is None:
            by_email.failed(address, now)
            by_client.failed(client, now)
            return render.page(request, "login.html", {**context, "error": "Wrong e-mail address or password."}, 401)
        by_email.succeeded(address)
        await sessions.start(conn, request, user, request.app.state.settings.session_hours)
    return RedirectResponse(_safe_next(next), 303)


@router.post("/logout")
async def logout(request: Request):
    async with request.app.state.pool.acquire() as conn:
        await sessions.end(conn, request)
    return RedirectResponse("/login", 303)
