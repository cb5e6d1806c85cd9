"""Portal service: wiring only (settings, vault, pool, API client, pages, error pages)."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from urllib.parse import quote

import httpx
import uvicorn
import uvloop
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from services.portal import clients, render, sessions, vault
from services.portal.pages import auth, credit, customers, dashboard, disputes, invoices, statements, usage
from services.portal.settings import PortalSettings
from shared import db, metrics
from shared.logging import configure

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
SESSION_COOKIE = "portal_session"


def _lifespan(settings: PortalSettings):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        base = settings.base
        await db.migrate_dsn(base.database_url, base.db_schema, MIGRATIONS)
        app.state.pool = await db.create_pool(base.database_url, base.db_schema, base.pool_min, base.pool_max)
        app.state.http = httpx.AsyncClient(timeout=settings.api_timeout_s)
        log.info("portal started (schema %s, http://%s:%s)", base.db_schema, base.http_host, base.http_port)
        try:
            yield
        finally:
            await app.state.http.aclose()
            await app.state.pool.close()

    return lifespan


def _error_pages(app: FastAPI) -> None:
    async def sign_in_first(request: Request, _: Exception):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}" if request.method == "GET" else "/login", 303)

    async def csrf_refused(request: Request, _: Exception):
        return render.page(request, "error.html", {"title": "Form expired", "message":
                           "This form is out of date or did not come from the portal: reload the page and "
                           "send it again."}, 403)

    async def not_found(request: Request, _: Exception):
        return render.page(request, "error.html", {"title": "Not found", "message":
                           "There is no such page, or it is not yours to see."}, 404)

    async def refused(request: Request, exc: clients.Refused):
        return render.page(request, "error.html", {"title": "Refused", "message": f"{exc.detail} ({exc.reason})"},
                           422)

    async def unavailable(request: Request, exc: clients.Unavailable):
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return render.page(request, "error.html", {"title": "Temporarily unavailable", "message":
                           "The billing platform did not answer; try again in a moment."}, 502)

    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            return await not_found(request, exc)
        return render.page(request, "error.html", {"title": "Error", "message": str(exc.detail)}, exc.status_code)

    async def invalid(request: Request, _: RequestValidationError):
        # a malformed number or month in a URL is a page that does not exist
        return await not_found(request, _)

    app.add_exception_handler(sessions.NotSignedIn, sign_in_first)
    app.add_exception_handler(sessions.CsrfRefused, csrf_refused)
    app.add_exception_handler(clients.NotFound, not_found)
    app.add_exception_handler(clients.Refused, refused)
    app.add_exception_handler(clients.Unavailable, unavailable)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


# every answer: no framing (clickjacking), nothing from elsewhere, no referrer beyond the portal;
# pages are per user, so no shared cache keeps them
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
                    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin"}


def _security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def add_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings.from_env()
    # every form of every page is checked for its CSRF token (one dependency, app-wide)
    app = FastAPI(title="Partner portal", lifespan=_lifespan(settings), docs_url=None, redoc_url=None,
                  openapi_url=None, dependencies=[Depends(sessions.check_csrf)])
    app.state.settings = settings
    app.state.vault = vault.load(settings.secrets_file)
    app.add_middleware(SessionMiddleware, secret_key=app.state.vault.session_key, session_cookie=SESSION_COOKIE,
                       max_age=int(settings.session_hours * 3600), same_site="lax",
                       https_only=settings.secure_cookies)
    _security_headers(app)
    app.mount("/static", StaticFiles(directory=render.STATIC), name="static")
    _error_pages(app)
    metrics.install(app, "portal")  # /metrics for Prometheus, as every service (README "Operating it")

    @app.get("/health")
    async def health():
        return {"status": "ok", "service": "portal"}

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():  # for clients that ask by that name without reading the page's <link rel="icon">
        return RedirectResponse("/static/favicon.svg", status_code=301)

    # page areas, one line each
    app.include_router(auth.router)
    app.include_router(invoices.router)
    app.include_router(statements.router)
    app.include_router(credit.router)
    app.include_router(customers.router)
    app.include_router(disputes.router)
    app.include_router(dashboard.router)
    app.include_router(usage.router)
    return app


def main() -> None:
    settings = PortalSettings.from_env()
    configure("portal")
    config = uvicorn.Config(create_app(settings), host=settings.base.http_host, port=settings.base.http_port,
                            log_level="warning", proxy_headers=False)
    uvloop.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
