"""Every service's API docs (/docs, /redoc) open without internet: each asset comes from the service."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from services.auto_provisioning import handlers as auto_provisioning
from services.invoicing import api as invoicing
from services.provisioning import handlers as provisioning
from services.rating import api as rating
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings

BASE = "http://service"
MODULES = {"provisioning": provisioning, "auto_provisioning": auto_provisioning, "rating": rating,
           "invoicing": invoicing}


class _Assets(HTMLParser):
    """The URLs a browser fetches to show the page: script src and link href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
@pytest.mark.parametrize("name", MODULES)
async def test_docs_page_and_every_asset_come_from_the_service(name, page):
    app = MODULES[name].http_app(ServiceRuntime(Settings(service=name), None))
    add_platform_routes(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        r = await http.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        parser = _Assets()
        parser.feed(r.text)
        assert len(parser.urls) >= 2 if page == "/docs" else parser.urls, parser.urls
        for url in parser.urls:
            absolute = urljoin(f"{BASE}{page}", url)
            assert urlsplit(absolute).netloc == urlsplit(BASE).netloc, f"{page} loads {url} off-host"
            asset = await http.get(absolute)
            assert asset.status_code == 200 and asset.content, (url, asset.status_code)
            # nor do the scripts fetch anything from a CDN (ReDoc's drew Redocly's logo from one)
            assert b"cdn." not in asset.content, f"{url} names a CDN"
        assert "cdn" not in r.text.lower() and "fonts.googleapis" not in r.text
        spec = await http.get("/openapi.json")
        assert spec.status_code == 200
