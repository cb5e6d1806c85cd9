"""Every operation of every service's HTTP API fuzzed by schemathesis from its own OpenAPI document,
against the real service on a real PostgreSQL schema: no 5xx for any input, and every response
(status, content type, body) as the document describes it."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, negative_data_rejection, response_schema_conformance, status_code_conformance,
)

from cli.namespace import drop_namespace
from services.auto_provisioning import handlers as auto_provisioning
from services.disputes import api as disputes
from services.invoicing import api as invoicing
from services.prepaid_credit import api as prepaid_credit
from services.provisioning import handlers as provisioning
from services.rating import api as rating
from shared import db as shared_db
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings
from tests.support.http import bearer, session_keys

pytestmark = pytest.mark.infra

SERVICES: dict[str, tuple[Callable, Path]] = {
    name: (module.http_app, Path(module.__file__).parent / "migrations")
    for name, module in (("provisioning", provisioning), ("auto_provisioning", auto_provisioning),
                         ("rating", rating), ("invoicing", invoicing), ("disputes", disputes),
                         ("prepaid_credit", prepaid_credit))}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
# Bounded and reproducible: the same examples on every run, at most ~2 minutes for all services
# (BILLING_FUZZ_EXAMPLES raises the bound for a deeper local search).
FUZZ = settings(max_examples=int(os.environ.get("BILLING_FUZZ_EXAMPLES", 20)), deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


class OperatorKey:
    """Schemathesis' auth provider: every fuzzed request carries the operator's key (which reaches
    every operation). Given as a provider, not as extra headers, so that schemathesis knows the
    header is the credential and does not count its own missing-credential mutations as accepted."""

    def get(self, case, ctx) -> str:
        return session_keys().operator

    def set(self, case, data: str, ctx) -> None:
        case.headers = {**(case.headers or {}), **bearer(data)}


def _app(service: str, runtime) -> FastAPI:
    """The service's HTTP app as it serves, with the platform routes (dead letters) too."""
    app = SERVICES[service][0](runtime)
    add_platform_routes(app)
    return app


class _Served:
    """One service's HTTP app, served by uvicorn on a free loopback port from its own thread and
    event loop (the runtime's pool lives on that loop)."""

    def __init__(self, service: str, database_url: str, namespace: str) -> None:
        self.migrations = SERVICES[service][1]
        self.settings = Settings(service=service, database_url=database_url, topic_prefix=namespace,
                                 schema=f"{namespace}{service}", api_keys_file=str(session_keys().path))
        self.runtime = ServiceRuntime(self.settings, self.migrations)
        self.app = _app(service, self.runtime)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        s = self.settings
        await shared_db.migrate_dsn(s.database_url, s.db_schema, self.migrations)
        self.runtime.pool = await shared_db.create_pool(s.database_url, s.db_schema)
        try:
            await self.server.serve()
        finally:
            await self.runtime.pool.close()

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{self.settings.service} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def live(infra) -> dict[str, str]:
    namespace = f"t{uuid.uuid4().hex[:10]}_"
    served = [_Served(name, infra.database_url, namespace) for name in SERVICES]
    try:
        for s in served:
            s.start()
        yield {s.settings.service: s.url for s in served}
    finally:
        for s in served:
            s.stop()
        asyncio.run(drop_namespace(infra.kafka, infra.database_url, namespace))


def _fuzz(service: str):
    offline = SimpleNamespace(settings=Settings(service=service))  # the document needs no pool
    schema = schemathesis.openapi.from_dict(_app(service, offline).openapi())
    schema.auth()(OperatorKey)

    @schema.parametrize()
    @FUZZ
    def fuzz(case, live):
        response = case.call(base_url=live[service], timeout=30)
        case.validate_response(response, checks=CHECKS)

    return fuzz


test_provisioning = _fuzz("provisioning")
test_auto_provisioning = _fuzz("auto_provisioning")
test_rating = _fuzz("rating")
test_invoicing = _fuzz("invoicing")
test_disputes = _fuzz("disputes")
test_prepaid_credit = _fuzz("prepaid_credit")
