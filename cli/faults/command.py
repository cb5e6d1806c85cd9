"""`billing faults`: the seeded fault suite (`make faults`). Prints the seed first, one JSON line
per fault, and a JSON summary last; exits 1 when any invariant failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

from cli.faults import schedule
from cli.faults.infra import OwnInfra, from_environment
from cli.faults.runner import run_fault
from cli.processes import ROOT
from shared import apikeys
from shared.clock import SystemClock


def register(subparsers) -> None:
    parser = subparsers.add_parser("faults", help="the seeded fault suite: faults, then the invariants")
    parser.add_argument("--seed", type=int, default=None, help="replays a schedule (default: a random one, printed)")
    parser.add_argument("--scenario", "--only", dest="only", default="",
                        help="comma-separated fault names or kinds (default: all; see docs/faults.md)")
    parser.add_argument("--accounts", type=int, default=24, help="accounts of each fault's workload")
    parser.add_argument("--external", action="store_true",
                        help="use the broker and database the environment names, never restarting them "
                             "(no kafka-restart or postgres-restart faults)")
    parser.add_argument("--var", default=str(ROOT / "var" / "faults"), help="the suite's own infrastructure's folder")
    parser.add_argument("--kafka-port", type=int, default=19092)
    parser.add_argument("--kafka-controller-port", type=int, default=19093)
    parser.add_argument("--pg-port", type=int, default=56432)
    parser.add_argument("--down", action="store_true", help="stop the suite's own Kafka and PostgreSQL at the end")
    parser.add_argument("--keep", action="store_true", help="keep each fault's schemas and topics")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print(f"fault suite: seed {seed} (replay: billing faults --seed {seed})", flush=True)
    if args.external:
        infra = from_environment()
    else:
        infra = OwnInfra(Path(args.var), args.kafka_port, args.kafka_controller_port, args.pg_port)
        infra.up()
    try:
        summary = asyncio.run(_suite(seed, args, infra))
    finally:
        if args.down and infra.restartable:
            infra.down()
    print(json.dumps(summary), flush=True)
    return 0 if not summary["failed"] else 1


async def _suite(seed: int, args: argparse.Namespace, infra: OwnInfra) -> dict:
    faults = schedule.draw(seed, [n for n in args.only.split(",") if n], infra_faults=infra.restartable)
    log_root = ROOT / "var" / "faults-logs" / str(seed)
    keys_file = log_root / "keys" / "api-keys.json"
    api_key, _ = apikeys.create(keys_file, "operator", None, "faults", SystemClock().now())
    began, failed, missed = time.perf_counter(), [], []
    for index, fault in enumerate(faults):
        result = await run_fault(seed, index, fault, infra, log_root, api_key, keys_file, args.keep, args.accounts)
        print(json.dumps(result, default=str), flush=True)
        if not result["ok"]:
            failed.append(fault.name)
        elif not result["fired"]:  # its point was passed fewer than n times: it tested nothing
            missed.append(fault.name)
    return {"seed": seed, "faults": len(faults), "failed": failed, "not_fired": missed, "logs": str(log_root),
            "seconds": round(time.perf_counter() - began, 1)}
