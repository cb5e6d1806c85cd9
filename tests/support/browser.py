"""The portal under test: a module's platform (services as processes, the demo loaded, portal
users) and a headless Chromium driven by Selenium. Page tests of every portal area reuse these.

    pytestmark = pytest.mark.infra
    # in a test module: one platform and one browser for all its tests
    portal = portal_platform            # fixture: .url, .demo and .other (Login), .numbers
    browser.get(portal.url + "/login"); sign_in(browser, portal.demo)

A module needing more services (prepaid_credit, disputes) declares its own fixture:
    @pytest.fixture(scope="module")
    def portal_platform(infra, api_keys, tmp_path_factory):
        with start_portal_platform(infra, api_keys, tmp_path_factory.mktemp("portal"),
                                   services=PLATFORM + ("prepaid_credit", "disputes")) as found:
            yield found
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By

from cli.namespace import drop_namespace
from cli.portal import add_user
from cli.scenarios import load_scenario
from cli.scenarios.model import parse_scenario
from cli.scenarios.replay import Endpoints, Replay
from services.portal.settings import API_PORTS, PortalSettings
from shared.settings import Settings
from tests.support.http import TestKeys, bearer
from tests.support.infra import ROOT, Infra
from tests.support.processes import ServiceProcess, free_port

log = logging.getLogger(__name__)
DEMO = ROOT / "cli" / "demo" / "demo.json"
# what the invoices and statements pages need; other areas add theirs
PLATFORM = ("provisioning", "rating", "invoicing")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = os.environ.get("BILLING_SCREENSHOTS") == "1"
IMG = ROOT / "docs" / "img"


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    account_id: str


@dataclass
class PortalPlatform:
    """A running platform with the portal: the demo partner (`demo-partner`, the demo's invoices)
    and another partner (`other-partner`, the same demo under another name) to prove isolation."""

    url: str
    namespace: str
    env: dict[str, str]
    services: dict[str, ServiceProcess]
    demo: Login
    other: Login
    admin: Login  # the administrator of `demo-shop`, a customer account below demo-partner
    # account -> its invoice numbers, oldest first (as the operator sees them)
    numbers: dict[str, list[str]] = field(default_factory=dict)

    def settings(self) -> PortalSettings:
        return _portal_settings(self.env)


def _portal_settings(env: dict[str, str]) -> PortalSettings:
    with _environ(env):
        return PortalSettings.from_env()


@contextlib.contextmanager
def _environ(extra: dict[str, str]):
    saved = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _other_scenario():
    """The demo's Full Brand and October run alone: another partner with one invoice, for the
    isolation checks, at a fraction of the demo's replay time."""
    data = json.loads(DEMO.read_text())
    data["events"] = [e for e in data["events"] if e["type"] == "brand_ready"
                      or (e["type"] == "billing_run" and e["month"] == "2026-10")]
    return parse_scenario(data)


def _replay(scenario, endpoints: Endpoints, settings: Settings, prefix: str) -> None:
    asyncio.run(Replay(scenario, endpoints, settings, prefix).run())


def services_said(services: dict[str, ServiceProcess]) -> list[str]:
    """Each service's last warnings and errors, a line each (a failure's report: CI keeps no logs)."""
    return [f"{name}: {line}" for name, proc in services.items() for line in proc.problems()]


@contextlib.contextmanager
def start_portal_platform(infra: Infra, keys: TestKeys, tmp: Path,
                          services: tuple[str, ...] = PLATFORM) -> Iterator[PortalPlatform]:
    """Start `services` and the portal in a fresh namespace, load the demo (as `demo-`) and another
    partner's October (as `other-`), add a portal user for each; stop and drop everything after."""
    namespace = f"t{uuid.uuid4().hex[:10]}_"
    logs = ROOT / "var" / "test-logs" / namespace
    env = {"BILLING_API_KEYS_FILE": str(keys.path), "BILLING_API_KEY": keys.operator,
           "KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "DATABASE_URL": infra.database_url,
           "BILLING_TOPIC_PREFIX": namespace, "BILLING_SCHEMA_PREFIX": namespace,
           "BILLING_RELAY_IDLE_MS": "100", "BILLING_RETRY_BACKOFF_MS": "50",
           # the scheduler would bill the current month on its own: runs are the replay's
           "BILLING_SCHEDULER_MS": "3600000",
           "PORTAL_SECRETS_FILE": str(tmp / "portal-secrets.json"), **infra.roles(services)}
    started: dict[str, ServiceProcess] = {}
    try:
        # every process at once (their start is mostly waiting on Kafka and PostgreSQL), on ports
        # chosen first so that the portal knows the APIs' addresses
        ports = {name: free_port() for name in (*services, "portal")}
        env.update({f"{name.upper()}_HTTP_PORT": str(port) for name, port in ports.items()})
        env.update({f"{name.upper()}_URL": f"http://127.0.0.1:{ports[name]}" for name in services})
        # an API this platform does not run answers nowhere (a free port), never the default
        # port, where a platform of `make up` may be listening with other keys and data
        env.update({f"{name.upper()}_URL": f"http://127.0.0.1:{free_port()}" for name in API_PORTS
                    if name not in services})
        began = time.monotonic()
        procs = {name: ServiceProcess(name, env, logs) for name in (*services, "portal")}
        started.update(procs)  # stopped afterwards whatever happens (stop() skips one never started)
        with ThreadPoolExecutor(len(procs)) as pool:
            for wait in [pool.submit(proc.start, timeout=120) for proc in procs.values()]:
                wait.result()
        log.info("portal platform: %s started in %.1f s", ", ".join(procs), time.monotonic() - began)
        endpoints = Endpoints(started["provisioning"].url, started["invoicing"].url, timeout=90,
                              api_key=keys.operator)
        replay_settings = Settings(service="scenario-replay", kafka_bootstrap_servers=infra.kafka,
                                   database_url=infra.database_url, topic_prefix=namespace)
        numbers = {}
        for prefix, scenario in (("demo-", load_scenario(DEMO)), ("other-", _other_scenario())):
            began = time.monotonic()
            try:
                _replay(scenario, endpoints, replay_settings, prefix)
            except Exception as exc:
                # CI keeps no logs: the failure carries what the services said
                raise RuntimeError("\n".join([f"{type(exc).__name__}: {exc} (replaying {prefix})",
                                              *services_said(started)])) from exc
            log.info("portal platform: %s replayed in %.1f s", prefix, time.monotonic() - began)
            answer = httpx.get(f"{started['invoicing'].url}/v1/accounts/{prefix}partner/invoices",
                               headers=bearer(keys.operator), timeout=30)
            numbers[f"{prefix}partner"] = sorted(i["invoice_number"] for i in answer.json())
        # a customer account below the demo partner, for its administrator
        opened = httpx.post(f"{started['provisioning'].url}/v1/accounts", headers=bearer(keys.operator), timeout=30,
                            json={"account_id": "demo-shop", "parent_account_id": "demo-partner"})
        assert opened.status_code == 201, opened.text
        settings = _portal_settings(env)
        logins = {}
        for account, email, kind in (("demo-partner", "partner@demo.example", "partner"),
                                     ("other-partner", "partner@other.example", "partner"),
                                     ("demo-shop", "admin@shop.example", "administrator")):
            password = f"correct horse {account}"
            asyncio.run(add_user(account, email, kind, password, keys.path, settings))
            logins[account] = Login(email, password, account)
        yield PortalPlatform(started["portal"].url, namespace, env, started, logins["demo-partner"],
                             logins["other-partner"], logins["demo-shop"], numbers)
    finally:
        for proc in reversed(list(started.values())):
            proc.stop()
        asyncio.run(drop_namespace(infra.kafka, infra.database_url, namespace))


@pytest.fixture(scope="module")
def portal_platform(infra, api_keys, tmp_path_factory) -> Iterator[PortalPlatform]:
    with start_portal_platform(infra, api_keys, tmp_path_factory.mktemp("portal")) as found:
        yield found


# ------------------------------------------------------------------ the browser
def chrome():
    """Headless Chromium (Debian's chromium and chromium-driver; `make browser-deps` installs them)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.skip(f"no {CHROMIUM} or {CHROMEDRIVER}: run `make browser-deps`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = chrome()
    yield driver
    driver.quit()


def sign_in(driver, base_url: str, login: Login) -> None:
    """Sign in through the form (after signing out whoever was signed in)."""
    driver.delete_all_cookies()
    driver.get(base_url + "/login")
    driver.find_element(By.ID, "email").send_keys(login.email)
    driver.find_element(By.ID, "password").send_keys(login.password)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]"))


def click_and_wait(driver, element, timeout: float = 30) -> None:
    """Click a link or button and wait until the next page replaced this one (the old page's
    elements are gone: reading them now would race the navigation) and has loaded."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout).until(expected_conditions.staleness_of(page))
    # and the next page parsed to its end (a redirect's target may still be loading; a script
    # run while the browser switches documents may fail: asked again)
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def heading(driver) -> str:
    """The page's h1."""
    return driver.find_element(By.TAG_NAME, "h1").text


def screenshot(driver, name: str) -> None:
    """With BILLING_SCREENSHOTS=1, save the page as docs/img/portal-<name>.png (for docs/portal.md)."""
    if SCREENSHOTS:
        IMG.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(IMG / f"portal-{name}.png"))


# ------------------------------------------------------------------ plain HTTP (no browser)
def csrf_of(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def http_sign_in(http, login: Login):
    """Sign an httpx client (with its cookie jar) in through the form; returns the answer."""
    page = http.get("/login")
    return http.post("/login", data={"email": login.email, "password": login.password,
                                     "csrf_token": csrf_of(page.text), "next": "/invoices"})
