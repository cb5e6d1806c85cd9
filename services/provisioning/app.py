"""Provisioning service: wiring only."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import PROVISIONING_COMMANDS
from services.provisioning import handlers
from shared.runtime import ServiceRuntime, run
from shared.settings import Settings

HTTP_PORT = 8001


def build() -> tuple[ServiceRuntime, object]:
    runtime = ServiceRuntime(Settings.from_env("provisioning", HTTP_PORT), Path(__file__).parent / "migrations")
    runtime.subscribe_batch(PROVISIONING_COMMANDS, handlers.command_handler(runtime))
    return runtime, handlers.http_app(runtime)


def main() -> None:
    runtime, http = build()
    run(runtime, http)


if __name__ == "__main__":
    main()
