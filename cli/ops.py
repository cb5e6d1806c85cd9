"""Operator commands: serve a service, apply migrations, create topics."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

from pathlib import Path

_ORDER = ("provisioning", "auto_provisioning", "rating", "prepaid_credit", "invoicing", "disputes")
# the services this checkout has (each is services/<name>/app.py)
SERVICES = tuple(s for s in _ORDER
                 if (Path(__file__).resolve().parents[1] / "services" / s / "app.py").exists())
# HTTP-only edges over the services' APIs: no Kafka, no dead letters, no clock (not in SERVICES)
EDGES = tuple(s for s in ("portal",) if (Path(__file__).resolve().parents[1] / "services" / s / "app.py").exists())


def _serve(args: argparse.Namespace) -> int:
    from shared.settings import SettingsError

    module = importlib.import_module(f"services.{args.service}.app")
    try:
        module.main()
    except SettingsError as exc:  # a bad setting: say which, without a traceback, and do not start
        print(f"billing serve {args.service}: {exc}", file=sys.stderr)
        return 2
    return 0


def _topics(args: argparse.Namespace) -> int:
    from contracts import topics
    from shared.kafka import ensure_topics
    from shared.settings import Settings

    s = Settings.from_env("ops")
    asyncio.run(ensure_topics(s.kafka_bootstrap_servers, topics.ALL, s.topic_prefix, SERVICES))
    print("topics ready")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=SERVICES + EDGES)
    serve.set_defaults(func=_serve)
    topics = sub.add_parser("create-topics", help="create the platform's topics where missing")
    topics.set_defaults(func=_topics)
