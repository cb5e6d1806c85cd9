"""Fixtures shared by every tier. Infrastructure fixtures start nothing until a test asks."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from cli.namespace import drop_namespace
from cli.ops import SERVICES
from tests.support.http import TestKeys, session_keys
from tests.support.infra import ROOT, Infra, infrastructure
from tests.support.processes import ServiceProcess


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed portal test reports what its platform's services warned of (CI keeps no logs)."""
    report = yield
    platform = getattr(item, "funcargs", {}).get("portal_platform")
    if report.failed and platform is not None:
        from tests.support.browser import services_said

        said = services_said(platform.services)
        report.sections.append(("the portal platform's services warned", "\n".join(said) or "nothing"))
    return report


@pytest.fixture(scope="session")
def infra() -> Infra:
    with infrastructure() as found:
        yield found


@pytest.fixture
def namespace() -> str:
    """A unique prefix for this test's topics, consumer groups and schemas."""
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture(scope="session")
def api_keys() -> TestKeys:
    """The key file every service under test trusts: `.operator`, `.integration`, `.partner(id)`
    (tests/support/http.py builds clients with them)."""
    return session_keys()


@pytest.fixture
def service_env(infra: Infra, namespace: str, api_keys: TestKeys) -> dict[str, str]:
    """Environment for service processes: this test's broker, database, topics and schemas, the
    test key file, and the operator key for the CLI (BILLING_API_KEY).

    Kafka: the admin principal (per-service ACLs name the platform's topics, not a test's
    prefixed copies; tests/integration/test_least_privilege.py grants a namespace its own).
    PostgreSQL: each service's own role where deploy/local made them, else the admin."""
    return {
        "BILLING_API_KEYS_FILE": str(api_keys.path),
        "BILLING_API_KEY": api_keys.operator,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "DATABASE_URL": infra.database_url,
        "BILLING_TOPIC_PREFIX": namespace,
        "BILLING_SCHEMA_PREFIX": namespace,
        "BILLING_RELAY_IDLE_MS": "100",
        "BILLING_RETRY_BACKOFF_MS": "50",
        **infra.roles(SERVICES),
    }


@pytest.fixture
async def db(infra: Infra, namespace: str):
    """A connection to the test database; afterwards the test's schemas and topics are dropped."""
    conn = await asyncpg.connect(infra.database_url)
    yield conn
    await conn.close()
    await drop_namespace(infra.kafka, infra.database_url, namespace)


@pytest.fixture
def log_dir(namespace: str):
    return ROOT / "var" / "test-logs" / namespace


@pytest.fixture
def services(service_env, log_dir, db):  # db: its teardown (dropping the namespace) runs last
    """The one way tests run services as processes (`billing serve`) in this test's namespace:
    `start(name, port=None, *, without=(), replica=None, timeout=60, **env)` starts one and returns
    its ServiceProcess; `env` adds or overrides variables, `without` drops the test environment's
    variables with those prefixes, `replica` gives a second process of one service its own log
    folder. Every one started is stopped after the test."""
    started: list[ServiceProcess] = []

    def start(name: str, port: int | None = None, *, without: tuple[str, ...] = (), replica: int | None = None,
              timeout: float = 60, **extra: str) -> ServiceProcess:
        env = {k: v for k, v in service_env.items() if not k.startswith(without)} if without else dict(service_env)
        if port:
            env[f"{name.upper()}_HTTP_PORT"] = str(port)
        logs = log_dir if replica is None else log_dir / str(replica)
        proc = ServiceProcess(name, env, logs).start(extra, timeout=timeout)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
