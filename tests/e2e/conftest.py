"""Fixtures of the end-to-end tier: services as separate processes."""

from __future__ import annotations

import pytest

from tests.support.processes import ServiceProcess


@pytest.fixture
def services(service_env, log_dir, db):  # db: its teardown (dropping the namespace) runs last
    """`start(name, port=None, **extra_env)` runs a service as a process (`billing serve`) in this
    test's namespace; every one started is stopped after the test."""
    started: list[ServiceProcess] = []

    def start(name: str, port: int | None = None, **extra: str) -> ServiceProcess:
        env = dict(service_env)
        if port:
            env[f"{name.upper()}_HTTP_PORT"] = str(port)
        proc = ServiceProcess(name, env, log_dir).start(extra)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()
