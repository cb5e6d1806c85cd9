"""`billing bench billing-run --accounts N`: one billing run end to end through Kafka and
PostgreSQL, with the rating and invoicing services as separate processes.

Set-up (not timed): N accounts with three subscriptions each and one usage record, fed to the
services as provisioning events and usage records in a namespace of their own (or, with
`--seed sql`, the same rows written by the services' own statements: cli/bench_seed.py). Timed:
from the run request to the run reconciled (the last invoice issued); the JSON also gives each
service process's CPU per invoice during the run and its peak memory (VmHWM), the local
PostgreSQL's and Kafka's CPU per invoice, all of them together, how busy the whole machine was,
and the host's reference loop timed just before (`proc_stats.host_reference_ms`: how fast the
shared machine ran Python then). Topology: one rating process (two run workers) and two
invoicing replicas in one consumer group, by default. `--runs N` runs it N times in a row and
ends with a summary line: the median, lowest and highest of each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections import Counter

from aiokafka import AIOKafkaProducer

from cli import bench_seed, proc_stats
from cli import http as cli_http
from cli.bench import at_least_one
from cli.consumption import end_offsets, wait_consumed
from cli.namespace import end_bench
from cli.processes import ROOT, ServiceProcess
from contracts import topics
from shared import apikeys
from shared.clock import SystemClock
from shared.kafka_security import client_options
from shared.settings import DEFAULT_KAFKA, database_url, local_secrets, role_env

MONTH = "2026-11"  # the November run: arrears + advance
PROGRESS_EVERY = 30  # seconds between two progress lines during the run


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench's schemas and topics")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--rating-replicas", type=int, default=1, help="rating processes (default 1)")
    parser.add_argument("--invoicing-replicas", type=int, default=2,
                        help="invoicing processes (default 2: one would lag behind rating and finish alone)")
    parser.add_argument("--seed", choices=("kafka", "sql"), default="kafka",
                        help="set-up through the topics (default) or written by the services' statements "
                             "(cli/bench_seed.py: the same rows, minutes faster at 1,000,000 accounts)")
    parser.add_argument("--runs", type=at_least_one, default=1,
                        help="runs in a row, each in a namespace of its own; after the runs' lines, a "
                             "summary line with their median (default 1: no summary)")


async def _produce(bootstrap: str, ns: str, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(),
                                enable_idempotence=True, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        pending = []
        for topic, key, payload in bench_seed.facts(n, ns):
            env = bench_seed.envelope(key, payload)
            pending.append(await producer.send(ns + topic, env.encode(), key=key.encode()))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _seed(args: argparse.Namespace, bootstrap: str, database: str, ns: str) -> None:
    if args.seed == "sql":
        await bench_seed.seed_sql(database, ns, args.accounts)
        return
    await _produce(bootstrap, ns, args.accounts)
    fed = [ns + topics.PROVISIONING_EVENTS.name, ns + topics.USAGE_RECORDS.name]
    ends = await end_offsets(bootstrap, fed)
    await wait_consumed(bootstrap, ns + "rating", ends, args.timeout, "the set-up facts")
    await wait_consumed(bootstrap, ns + "invoicing", ends, args.timeout, "the set-up facts")


def _progress(invoices: int, seconds: float, services: list[ServiceProcess]) -> None:
    rss = {p: round(u["peak_rss_mib"]) for p, u in _usage(services).items()}
    print(f"run: {invoices} invoices after {seconds:.0f} s ({invoices / seconds:.0f}/s); peak RSS MiB {rss}",
          flush=True)


def _usage(services: list[ServiceProcess]) -> dict[str, dict[str, float]]:
    """Each process's CPU seconds so far and peak RSS (MiB), by `name-i`."""
    out, seen = {}, Counter()
    for proc in services:
        seen[proc.name] += 1
        out[f"{proc.name}-{seen[proc.name]}"] = {"cpu": proc_stats.cpu_seconds(proc.proc.pid),
                                                 "peak_rss_mib": proc_stats.peak_rss_mib(proc.proc.pid)}
    return out


async def _bench(args: argparse.Namespace) -> dict:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()  # the admin role: it drops its namespace afterwards
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database, "BILLING_TOPIC_PREFIX": ns,
           "BILLING_SCHEMA_PREFIX": ns,
           "BILLING_SCHEDULER_MS": "86400000"}  # the bench requests the run itself (a 1M run outlasts an hour)
    log_dir = ROOT / "var" / "bench" / ns
    # the bench's services trust a key file of their own, holding one operator key for the bench
    env["BILLING_API_KEYS_FILE"] = str(log_dir / "keys" / "api-keys.json")
    args.api_key, _ = apikeys.create(log_dir / "keys" / "api-keys.json", "operator", None, "bench",
                                     SystemClock().now())
    replicas = {"rating": args.rating_replicas, "invoicing": args.invoicing_replicas}
    # on deploy/local, the services with their own PostgreSQL roles, as in production
    env |= role_env(database, local_secrets(bootstrap, ROOT), list(replicas))
    services = [ServiceProcess(name, env, log_dir / f"{name}-{i}" if i else log_dir)
                for name, count in replicas.items() for i in range(count)]
    try:
        for proc in services:
            proc.start(timeout=120)
        print(f"setup: {args.accounts} accounts (3 subscriptions and 1 usage record each) by {args.seed}", flush=True)
        began = time.perf_counter()
        await _seed(args, bootstrap, database, ns)
        print(f"setup: done in {time.perf_counter() - began:.1f} s; requesting the {MONTH} run", flush=True)
        before, infra_before, ticks_before = _usage(services), proc_stats.infra_cpu_seconds(), proc_stats.machine_ticks()
        invoicing = next(proc.url for proc in services if proc.name == "invoicing")
        async with cli_http.async_client(key=args.api_key) as http:
            began = time.perf_counter()
            run = (await http.post(f"{invoicing}/v1/runs", json={"month": MONTH, "requested_by": "bench"})).json()
            shown = began
            while run.get("status") != "reconciled":
                if run.get("status") == "mismatch" or time.perf_counter() - began > args.timeout:
                    raise RuntimeError(f"run did not reconcile: {run}")
                # every 0.2 s at first and near the end, every second in between: each look costs
                # the invoicing replica it lands on a request and its queries (2% of its CPU at 0.2 s)
                near = run.get("invoices", 0) >= 0.9 * (run.get("expected_invoice_accounts") or args.accounts)
                await asyncio.sleep(0.2 if near or time.perf_counter() - began < 2 else 1.0)
                run = (await http.get(f"{invoicing}/v1/runs/{run['run_id']}")).json()
                if time.perf_counter() - shown >= PROGRESS_EVERY:  # a long run shows how it goes
                    shown = time.perf_counter()
                    _progress(run.get("invoices", 0), shown - began, services)
            seconds = time.perf_counter() - began
        invoices = run.get("invoices", run.get("received_accounts", args.accounts))
        after, infra_after, ticks_after = _usage(services), proc_stats.infra_cpu_seconds(), proc_stats.machine_ticks()
        busy, total = (b - a for a, b in zip(ticks_before, ticks_after))
        used = {p: u["cpu"] - before[p]["cpu"] for p, u in after.items()}  # CPU seconds during the run
        infra_used = {p: infra_after[p] - infra_before[p] for p in infra_after}

        def per_invoice(cpu_seconds: float) -> int:
            return round(cpu_seconds / max(invoices, 1) * 1e6)
        # CPU of the services' own processes during the run (PostgreSQL's and Kafka's apart, below),
        # and each process's peak memory since it started (the set-up included)
        return {"bench": "billing-run", "namespace": ns, "accounts": args.accounts, "replicas": replicas,
                "seed": args.seed, "invoices": invoices, "seconds": round(seconds, 2),
                "invoices_per_second": round(invoices / seconds),
                "cpu_us_per_invoice": {p: per_invoice(cpu) for p, cpu in used.items()},
                "peak_rss_mib": {p: round(u["peak_rss_mib"]) for p, u in after.items()},
                # where the rest of the machine went: the local PostgreSQL's and Kafka's CPU, and
                # how busy the whole machine was (everything on it counts, not only this run)
                "infra_cpu_us_per_invoice": {p: per_invoice(cpu) for p, cpu in infra_used.items()},
                # every process counted: what an invoice cost the machine
                "cpu_us_per_invoice_all": per_invoice(sum(used.values()) + sum(infra_used.values())),
                "machine_busy_percent": round(100 * busy / total) if total else None,
                "load_average": round(os.getloadavg()[0], 1)}
    finally:
        await end_bench(bootstrap, database, ns, services, args.keep)


def summary(results: list[dict]) -> dict:
    """Several runs' figures as the median, lowest and highest of each, with every run's rate and
    host reference in order: how a target is judged on a shared machine, whose neighbours move
    any one run's figure by a tenth or more."""
    def spread(values: list[float]) -> dict:
        return {"median": round(statistics.median(values), 2), "min": min(values), "max": max(values)}

    first = results[0]
    rates, references = [r["invoices_per_second"] for r in results], [r["host_reference_ms"] for r in results]
    return {"bench": "billing-run", "summary": True, "runs": len(results), "accounts": first["accounts"],
            "replicas": first["replicas"], "seed": first["seed"],
            "invoices_per_second": spread(rates) | {"each": rates},
            "seconds": spread([r["seconds"] for r in results]),
            "cpu_us_per_invoice_all": spread([r["cpu_us_per_invoice_all"] for r in results]),
            "host_reference_ms": spread(references) | {"each": references}}


def run(args: argparse.Namespace) -> int:
    results = []
    for _ in range(args.runs):
        reference = proc_stats.host_reference_ms()  # before this run's services start
        result = asyncio.run(_bench(args)) | {"host_reference_ms": reference}
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.runs > 1:
        print(json.dumps(summary(results)))
    return 0
