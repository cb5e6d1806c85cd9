"""HTTP clients for tests, with API keys: a key file holding one key per role, and clients that
send a key (the operator's unless told otherwise).

    keys = session_keys()                       # the same as the `api_keys` fixture (tests/conftest.py)
    settings = Settings(..., api_keys_file=str(keys.path))   # service_env sets BILLING_API_KEYS_FILE
    async with asgi_client(app, "http://invoicing") as http: ...           # the operator's key
    async with client(proc.url, keys.partner("acme")) as http: ...         # a partner's
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
import tempfile
from functools import cache
from pathlib import Path

import httpx

from shared import apikeys


class TestKeys:
    """A key file for the services under test: an operator and an integration key at once, and
    partner (or expired, or revoked) keys on demand."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, directory: Path) -> None:
        self.path = directory / "api-keys.json"
        self.operator = self.create("operator")
        self.integration = self.create("integration")
        self._partners: dict[str, str] = {}

    def create(self, role: str, account_id: str | None = None, expires_at: datetime | None = None) -> str:
        token, _ = apikeys.create(self.path, role, account_id, f"test {role}", datetime.now(timezone.utc),
                                  expires_at)
        return token

    def partner(self, account_id: str) -> str:
        """The partner key acting for `account_id` (one per account, made on first use)."""
        if account_id not in self._partners:
            self._partners[account_id] = self.create("partner", account_id)
        return self._partners[account_id]

    def expired(self, role: str = "operator") -> str:
        return self.create(role, expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))

    def revoked(self, role: str = "operator") -> str:
        token = self.create(role)
        apikeys.revoke(self.path, token.split("_")[1], datetime.now(timezone.utc))
        return token


@cache
def session_keys() -> TestKeys:
    """The test run's key file (one per process, in a temporary directory)."""
    return TestKeys(Path(tempfile.mkdtemp(prefix="billing-keys-")))


OPERATOR = object()  # the default token: the test run's operator key


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _token(token) -> str | None:
    return session_keys().operator if token is OPERATOR else token


def client(base_url: str, token: str | None | object = OPERATOR, timeout: float = 30) -> httpx.AsyncClient:
    """A client of a service process (None: no Authorization header)."""
    return httpx.AsyncClient(base_url=base_url, headers=bearer(_token(token)), timeout=timeout)


def asgi_client(app, base_url: str, token: str | None | object = OPERATOR) -> httpx.AsyncClient:
    """A client of an HTTP app in this process (httpx's ASGI transport)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url,
                             headers=bearer(_token(token)))
