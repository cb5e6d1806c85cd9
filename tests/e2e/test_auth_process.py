"""API keys against a real service process behind uvicorn: hostile Authorization headers get a
4xx (never a 5xx), and keys created and revoked while it runs take effect at once."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pytest

from shared import apikeys
from tests.support.http import client

pytestmark = pytest.mark.infra


@pytest.fixture
def provisioning(services):
    return services("provisioning")


async def test_hostile_headers_are_refused_with_a_4xx(provisioning, api_keys):
    hostile = [[], [("Authorization", "Bearer")], [("Authorization", "Bearer " + "A" * 60_000)],
               [("Authorization", "Bearer bk_☃_x".encode())], [("Authorization", "Bearer x\x01y")],
               [("Authorization", f"Bearer {api_keys.operator}")] * 2, [("Authorization", ("Bearer " + "é" * 300).encode())]]
    async with client(provisioning.url, None) as http:
        for headers in hostile:
            try:
                r = await http.get("/v1/accounts", headers=httpx.Headers(headers))
            except httpx.RemoteProtocolError:  # the server closed on a header it will not parse
                continue
            assert 400 <= r.status_code < 500, (headers[:1], r.status_code, r.text[:200])
            if r.status_code == 401:
                assert r.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/asyncapi.json")).status_code == 200  # documents stay open


async def test_keys_created_and_revoked_while_it_runs(provisioning, api_keys):
    token = api_keys.create("partner", "acme")
    async with client(provisioning.url, token) as partner:
        assert (await partner.get("/v1/accounts")).status_code == 200
        assert (await partner.put("/v1/catalog", json={"products": []})).json()["reason"] == "forbidden_role"
        apikeys.revoke(api_keys.path, token.split("_")[1], datetime.now(timezone.utc))
        r = await partner.get("/v1/accounts")
        assert r.status_code == 401 and r.json()["reason"] == "revoked_key"
