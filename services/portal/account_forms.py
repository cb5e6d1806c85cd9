"""What the account pages' forms share: who reaches an account, refusals on the form, PRG with a flash."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse

from services.portal.clients import Api, ApiError, NotFound, Refused
from services.portal.refusal_text import Refusal, describe

FLASH = "flash"  # session key: the messages the next page shows once


def flash(request: Request, text: str) -> None:
    """Keep a message for the page the browser is sent to next (PRG)."""
    request.session[FLASH] = [*request.session.get(FLASH, []), text][-5:]


def flashes(request: Request) -> list[str]:
    """The messages kept for this page; shown once."""
    return request.session.pop(FLASH, [])


def done(request: Request, url: str, text: str) -> RedirectResponse:
    """A form that worked: its message for the next page, and a 303 to it (post/redirect/get)."""
    flash(request, text)
    return RedirectResponse(url, 303)


def refusal(exc: ApiError) -> Refusal:
    """A backend's refusal as a form shows it."""
    return describe(exc.status, exc.reason, exc.detail)


async def attempt(call) -> tuple[Any, Refusal | None]:
    """Run one backend call a form makes: its answer, or the refusal to show next to the form.
    A 404 here is about something the form named (a code, a brand): the form's error too."""
    try:
        return await call, None
    except (Refused, NotFound) as exc:
        return None, refusal(exc)


async def accounts(client: Api) -> list[dict]:
    """The accounts the user works on: a partner its tree, an account administrator its own."""
    found = await client.accounts()
    if client.user.kind == "administrator":
        return [a for a in found if a["account_id"] == client.user.account_id]
    return found


async def reach(client: Api, account_id: str) -> dict:
    """The account (provisioning's view) if the user works on it, else NotFound (the portal's 404
    page): another partner's account, and an administrator's parent or child, look like ones that
    do not exist. The API itself refuses what the user's key does not reach."""
    if client.user.kind == "administrator" and account_id != client.user.account_id:
        raise NotFound(404, "unknown_account", f"no account {account_id}")
    return await client.get("provisioning", f"/v1/accounts/{account_id}")
