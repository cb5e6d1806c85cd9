"""Invoicing service: wiring only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contracts.charges import decode_lean
from contracts.topics import DISPUTES_EVENTS, PROVISIONING_EVENTS, RATING_CHARGES, USAGE_RECORDS
from services.invoicing import api, containment, credits, handlers, service
from shared.clock import Clock
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8005
MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: Settings | None = None, clock: Clock | None = None) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(settings or Settings.from_env("invoicing", HTTP_PORT), MIGRATIONS, clock)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events(runtime))
    runtime.subscribe_batch(RATING_CHARGES, handlers.on_rating_charges(runtime), max_records=1000, decode=decode_lean)
    runtime.subscribe_batch(USAGE_RECORDS, handlers.on_usage_records, max_records=1000)
    runtime.subscribe_batch(DISPUTES_EVENTS, handlers.on_dispute_events(runtime))
    tuning = runtime.settings.tuning
    # request each account's run once its metering point passed; mark unpaid invoices past due
    # overdue; quarantine charges that waited too long for an unknown account
    runtime.periodic("billing runs requested", service.request_due_runs, tuning.scheduler_ms / 1000, report=True)
    runtime.periodic("invoices marked overdue", service.mark_overdue, tuning.overdue_ms / 1000, report=True)
    runtime.periodic("refunds marked overdue", credits.mark_refunds_overdue, tuning.overdue_ms / 1000, report=True)
    runtime.periodic("pending charges expired", containment.expire_pending, tuning.pending_expiry_ms / 1000,
                     report=True)
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
