"""Disputes service: wiring only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.topics import DISPUTES_COMMANDS, INVOICING_EVENTS, PROVISIONING_EVENTS
from services.disputes import api, handlers, service
from shared.clock import Clock
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8006
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, clock: Clock | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(settings or Settings.from_env("disputes", HTTP_PORT), MIGRATIONS, clock)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events, max_records=1000)
    runtime.subscribe_batch(INVOICING_EVENTS, handlers.on_invoicing_events, max_records=1000)
    # one command at a time: a refused one is rejected on its own, never retried with a batch
    runtime.subscribe(DISPUTES_COMMANDS, handlers.on_commands(runtime))
    # announce open disputes past their deadline, once each
    runtime.periodic("disputes marked overdue", service.mark_overdue,
                     runtime.settings.tuning.dispute_overdue_ms / 1000, report=True)
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
