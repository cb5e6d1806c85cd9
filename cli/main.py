"""`billing`: the operators' command line. Each subcommand lives in its own module, imported lazily."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from shared.settings import load_local_credentials

# subcommand name -> module exposing `register(subparsers)`; each module adds its own parser(s)
# and sets `func` (taking the parsed args, returning an exit code).
_COMMANDS = (
    "cli.scenario",
    "cli.dead_letters",
    "cli.bench",
    "cli.ops",
    "cli.runs",
    "cli.containment",
    "cli.demo",
    "cli.keys",
    "cli.access",
    "cli.clock",
    "cli.portal",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="billing", description="Billing platform operations")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # on a machine running deploy/local, the operator's Kafka and PostgreSQL credentials
    load_local_credentials(Path(__file__).resolve().parents[1])
    code = args.func(args)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
