"""Rating service: wiring only."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import PROVISIONING_EVENTS, RATING_REQUESTS, USAGE_RECORDS, USER_COUNTS
from services.rating import handlers
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(Settings.from_env("rating"), Path(__file__).parent / "migrations")
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events)
    runtime.subscribe_batch(USER_COUNTS, handlers.on_user_counts)
    runtime.subscribe_batch(USAGE_RECORDS, handlers.on_usage)
    runtime.subscribe(RATING_REQUESTS, handlers.on_run_request)
    runtime.background(handlers.run_worker)
    return runtime


def main() -> None:
    run(build())


if __name__ == "__main__":
    main()
