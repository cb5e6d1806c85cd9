"""The platform's HTTP APIs as the signed-in user sees them: every call carries that user's key.

The portal never reads another service's tables: what a user may see is exactly what its partner
key may see, and another partner's invoice answers 404 here because the API answers 404."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Depends, Request

from services.portal.sessions import current_user
from services.portal.users import User


class ApiError(Exception):
    """An API's refusal: its status, `reason` and `detail` (shared/http.py's error body)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{status} {reason}: {detail}")
        self.status, self.reason, self.detail = status, reason, detail


class NotFound(ApiError):
    """404: unknown, or outside the user's tree (the portal answers its own 404 page)."""


class Refused(ApiError):
    """A rule refused the request (400, 409, 422), or the user's role may not do it (403, e.g.
    `forbidden_field`): page modules show `reason`/`detail` on the form."""


class Unavailable(ApiError):
    """The API did not answer, or failed (5xx), or no longer accepts the user's key (401: revoked
    or expired; an operator gives the user a new one with `billing portal users add`)."""


def _detail(body: Any) -> str:
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    if isinstance(detail, list):  # invalid_request: the invalid fields
        return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'value'}: {d.get('msg', '')}"
                         for d in detail if isinstance(d, dict))
    return str(detail)


def _raise_for(response: httpx.Response, service: str) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = body.get("reason", "refused") if isinstance(body, dict) else "refused"
    status = response.status_code
    if status == 404:
        raise NotFound(status, reason, _detail(body))
    if status in (400, 403, 409, 422):
        raise Refused(status, reason, _detail(body))
    raise Unavailable(status, reason, f"{service} answered {status}: {_detail(body)}")


class Api:
    """One user's view of the platform (`api(request)` builds it for a page)."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], token: str, user: User) -> None:
        self.http, self.urls, self.user = http, urls, user
        self._headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, service: str, path: str, *, params: dict | None = None,
                      json: Any = None) -> Any:
        """The JSON answer of `method service path`, or an ApiError."""
        try:
            response = await self.http.request(method, self.urls[service] + path, params=params, json=json,
                                               headers=self._headers)
        except httpx.HTTPError as exc:
            raise Unavailable(503, "unavailable", f"{service} does not answer ({type(exc).__name__})") from None
        _raise_for(response, service)
        return response.json() if response.content else None

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.request("GET", service, path, params={k: v for k, v in params.items() if v is not None})

    async def post(self, service: str, path: str, body: Any) -> Any:
        return await self.request("POST", service, path, json=body)

    async def put(self, service: str, path: str, body: Any) -> Any:
        return await self.request("PUT", service, path, json=body)

    async def stream(self, service: str, path: str, **params: Any) -> httpx.Response:
        """An open streamed response (status checked); the caller closes it (`aclose`)."""
        request = self.http.build_request("GET", self.urls[service] + path, params=params, headers=self._headers)
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise Unavailable(503, "unavailable", f"{service} does not answer ({type(exc).__name__})") from None
        if not response.is_success:
            await response.aread()
            await response.aclose()
            _raise_for(response, service)
        return response

    async def accounts(self) -> list[dict]:
        """The accounts the user reaches: its own first, then its tree's (provisioning's view)."""
        found = await self.get("provisioning", "/v1/accounts")
        own = [a for a in found if a["account_id"] == self.user.account_id]
        return own + sorted((a for a in found if a["account_id"] != self.user.account_id),
                            key=lambda a: a["account_id"])


async def api(request: Request, user: User = Depends(current_user)) -> Api:
    """Dependency of pages that call the platform: a client bound to the signed-in user's key."""
    state = request.app.state
    return Api(state.http, state.settings.apis, state.vault.open(request.state.sealed_token), user)
