"""Invoicing service: wiring only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.topics import PROVISIONING_EVENTS, RATING_CHARGES, USAGE_RECORDS
from services.invoicing import api, handlers, scheduler
from shared.clock import Clock
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8005
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, clock: Clock | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(settings or Settings.from_env("invoicing", HTTP_PORT), MIGRATIONS, clock)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events(runtime))
    runtime.subscribe_batch(RATING_CHARGES, handlers.on_rating_charges(runtime), max_records=1000)
    runtime.subscribe_batch(USAGE_RECORDS, handlers.on_usage_records, max_records=1000)
    runtime.background(scheduler.billing_runs)
    runtime.background(scheduler.overdue)
    runtime.background(scheduler.pending_expiry)
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
