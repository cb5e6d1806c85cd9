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
# ------------------------------------------------------------------ the portal: sessions, not keys
PORTAL_OPEN = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/health"),
               ("GET", "/favicon.ico")}  # a redirect to the icon in /static


def _portal(tmp_path):
    from services.portal.app import create_app
    from services.portal.settings import PortalSettings

    return create_app(PortalSettings(base=Settings(service="portal"), secrets_file=tmp_path / "portal.json"))


def _depends_on(dependant, target) -> bool:
    return any(d.call is target or _depends_on(d, target) for d in dependant.dependencies)


def _routes(routes):
    """APIRoutes, also those of included routers (FastAPI keeps them on the original router)."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)


def _portal_operations(app):
    return [(method, route) for route in _routes(app.routes) for method in route.methods]


def test_every_portal_page_needs_a_session(tmp_path):
    """The portal's routes answer people with a session cookie (services/portal/sessions.py): each
    one but sign-in, sign-out and /health depends on `current_user` (directly or through `api`)."""
    from services.portal.sessions import current_user

    app = _portal(tmp_path)
    operations = _portal_operations(app)
    assert len(operations) > len(PORTAL_OPEN)
    for method, route in operations:
        if (method, route.path) not in PORTAL_OPEN:
            assert _depends_on(route.dependant, current_user), (method, route.path)


async def test_every_portal_page_sends_a_caller_without_a_session_to_sign_in(tmp_path):
    app = _portal(tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal") as http:
        for method, route in _portal_operations(app):
            if (method, route.path) in PORTAL_OPEN or method != "GET":
                continue
            r = await http.get(re.sub(r"\{[^}]+\}", "x", route.path).replace("/x/x", "/x/2026-10"))
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (route.path, r.status_code)
        # and an unsafe method without the session's CSRF token is refused before any handler
        r = await http.post("/logout", data={})
        assert r.status_code == 403
