"""Auto-provisioning service: wiring only."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import AUTO_PROVISIONING_COMMANDS, PLATFORM_USERS, PROVISIONING_EVENTS
from services.auto_provisioning import handlers, service
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8002


def build() -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime(Settings.from_env("auto_provisioning", HTTP_PORT),
                             Path(__file__).parent / "migrations")
    runtime.subscribe_batch(PLATFORM_USERS, handlers.platform_handler(runtime), max_records=1000)
    runtime.subscribe_batch(PROVISIONING_EVENTS, handlers.on_provisioning_events)
    runtime.subscribe(AUTO_PROVISIONING_COMMANDS, handlers.command_handler(runtime))
    # report the counts of each account's latest metering point, once, on the injected clock
    runtime.periodic("metering", lambda conn, settings, now: service.report_user_counts(conn, settings, now, now),
                     runtime.settings.tuning.metering_interval_s)
    return runtime, handlers.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
