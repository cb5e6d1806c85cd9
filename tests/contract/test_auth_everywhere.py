"""Every operation of every service's HTTP API asks for an API key: OpenAPI documents the bearer
scheme and the 401/403 bodies, and a call without a key is refused before any handler runs."""

from __future__ import annotations

import re

import httpx
import pytest

from services.auto_provisioning import handlers as auto_provisioning
from services.invoicing import api as invoicing
from services.provisioning import handlers as provisioning
from services.rating import api as rating
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings

OPEN = {"/health", "/asyncapi.json", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _apps():
    for name, module in [("provisioning", provisioning), ("auto_provisioning", auto_provisioning),
                         ("rating", rating), ("invoicing", invoicing)]:
        app = module.http_app(ServiceRuntime(Settings(service=name), None))  # no pool: nothing may reach it
        add_platform_routes(app)
        yield name, app


APPS = dict(_apps())


@pytest.mark.parametrize("name", APPS)
def test_openapi_documents_the_scheme_and_refusals(name):
    doc = APPS[name].openapi()
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "bk_<key id>_<secret>",
        "description": doc["components"]["securitySchemes"]["ApiKey"]["description"]}
    for path, operations in doc["paths"].items():
        if path in OPEN:
            continue
        for method, op in operations.items():
            assert op.get("security") == [{"ApiKey": []}], (path, method)
            for status in ("401", "403"):
                assert op["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"}, (path, method, status)


@pytest.mark.parametrize("name", APPS)
async def test_every_operation_refuses_a_call_without_a_key(name):
    app = APPS[name]
    operations = [(method, path) for path, ops in app.openapi()["paths"].items() if path not in OPEN
                  for method in ops]
    assert operations
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        for method, path in operations:
            concrete = re.sub(r"\{[^}]+\}", "x", path).replace("/x/x", "/x/features")
            r = await http.request(method.upper(), concrete, json={})
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["reason"] == "missing_credentials"
            assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("name", APPS)
async def test_metrics_are_served_without_a_key_and_left_out_of_openapi(name):
    """Prometheus scrapes carry no API key (README "Operating it"); the counters hold no account data."""
    app = APPS[name]
    assert "/metrics" not in app.openapi()["paths"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as http:
        r = await http.get("/metrics")
    assert r.status_code == 200 and "billing_http_requests_total" in r.text
