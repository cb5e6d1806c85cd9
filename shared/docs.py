"""The API documentation pages (Swagger UI, ReDoc) served with their assets from the package, not a CDN."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

# fastapi-offline ships Swagger UI's and ReDoc's bundles; only its files are used, the apps stay FastAPI's
STATIC = files("fastapi_offline") / "static"
STATIC_URL = "/docs-assets"

# ReDoc's bundle draws Redocly's logo under the side menu from their CDN, whatever its options;
# the bundle is served with that address replaced by an empty inline image (the menu's "API docs
# by Redocly" link keeps its text)
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
REDOC_LOGO = "data:image/svg+xml," + quote('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')


@cache
def _redoc_bundle() -> bytes:
    """ReDoc's bundle as served (tests/contract/test_docs_offline.py: no CDN address left in it)."""
    return (STATIC / "redoc.standalone.js").read_text(encoding="utf-8").replace(REDOC_CDN_LOGO, REDOC_LOGO).encode()


def serve_docs_offline(app: FastAPI) -> None:
    """Replace FastAPI's /docs and /redoc (whose scripts come from a CDN: a blank page without
    internet access) by the same pages pointing at assets served by the app itself."""
    docs, redoc, redirect = app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url
    app.router.routes[:] = [r for r in app.router.routes
                            if getattr(r, "path", None) not in {docs, redoc, redirect}]
    if redoc:  # before the mount, which would serve the bundle as it is
        async def redoc_bundle() -> Response:
            return Response(_redoc_bundle(), media_type="text/javascript; charset=utf-8")

        app.add_api_route(f"{STATIC_URL}/redoc.standalone.js", redoc_bundle, methods=["GET"],
                          include_in_schema=False)
    app.mount(STATIC_URL, StaticFiles(directory=str(STATIC)), name="docs-assets")

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{STATIC_URL}/{name}"

    def openapi(request: Request) -> str:
        return f"{request.scope.get('root_path', '')}{app.openapi_url}"

    if docs:
        async def swagger_ui(request: Request) -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=openapi(request), title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=redirect, swagger_js_url=asset(request, "swagger-ui-bundle.js"),
                swagger_css_url=asset(request, "swagger-ui.css"),
                swagger_favicon_url=asset(request, "favicon.png"),
                swagger_ui_parameters=app.swagger_ui_parameters)

        app.add_api_route(docs, swagger_ui, methods=["GET"], include_in_schema=False)
        if redirect:
            async def oauth2_redirect() -> HTMLResponse:
                return get_swagger_ui_oauth2_redirect_html()

            app.add_api_route(redirect, oauth2_redirect, methods=["GET"], include_in_schema=False)
    if redoc:
        async def redoc_ui(request: Request) -> HTMLResponse:
            # no Google Fonts either: they come from the internet too
            return get_redoc_html(openapi_url=openapi(request), title=f"{app.title} - ReDoc",
                                  redoc_js_url=asset(request, "redoc.standalone.js"),
                                  redoc_favicon_url=asset(request, "favicon.png"), with_google_fonts=False)

        app.add_api_route(redoc, redoc_ui, methods=["GET"], include_in_schema=False)
