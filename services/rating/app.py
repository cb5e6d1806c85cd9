"""Rating service: wiring only."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import PROVISIONING_EVENTS, RATING_REQUESTS, USAGE_RECORDS, USER_COUNTS
from services.rating import api, handlers
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings


HTTP_PORT = 8003


def build() -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime(Settings.from_env("rating", HTTP_PORT), Path(__file__).parent / "migrations")
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events)
    runtime.subscribe_batch(USER_COUNTS, handlers.on_user_counts)
    runtime.subscribe_batch(USAGE_RECORDS, handlers.on_usage)
    runtime.subscribe(RATING_REQUESTS, handlers.on_run_request)
    runtime.background(handlers.run_workers)
    runtime.background(handlers.pending_sweeper)
    return runtime, api.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
