"""prepaid_credit service: wiring only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.topics import PROVISIONING_EVENTS, RATING_CHARGES
from services.prepaid_credit import api, handlers, service
from shared.clock import Clock
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8004
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, clock: Clock | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(settings or Settings.from_env("prepaid_credit", HTTP_PORT), MIGRATIONS, clock)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events(runtime))
    runtime.subscribe_batch(RATING_CHARGES, handlers.on_rating_charges(runtime), max_records=1000)
    # lots past their expiry leave the balance (once the account's usage of that midnight is in)
    runtime.periodic("lots expired", service.expire_due, runtime.settings.tuning.prepaid_expiry_s, report=True)
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
