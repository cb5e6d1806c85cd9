"""Rating service: wiring only."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import PROVISIONING_EVENTS
from services.rating import handlers
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings


def build() -> ServiceRuntime:
    runtime = ServiceRuntime(Settings.from_env("rating"), Path(__file__).parent / "migrations")
    runtime.subscribe(PROVISIONING_EVENTS, handlers.on_provisioning_event)
    return runtime


def main() -> None:
    run(build())


if __name__ == "__main__":
    main()
