"""`billing bench ...`: in-process benchmarks; the last line printed is a JSON summary."""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time
from datetime import date, datetime, timezone
from decimal import Decimal


def register(subparsers) -> None:
    """Add `bench` and its subcommands (one entry of _BENCHES each)."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    sub = bench.add_subparsers(dest="bench_command", required=True)
    for name, (help_text, add_arguments, func) in _BENCHES.items():
        parser = sub.add_parser(name, help=help_text)
        add_arguments(parser)
        parser.set_defaults(func=func)


def at_least_one(text: str) -> int:
    """An argument's count of runs: 1 or more (argparse refuses anything else with its reason)."""
    runs = int(text)
    if runs < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {runs}")
    return runs


def _rating_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--subscriptions", type=int, default=5, help="whole-month recurring items per account")
    parser.add_argument("--runs", type=at_least_one, default=5)
    parser.add_argument("--wire", choices=("fast", "checked"), default=None,
                        help="also build and encode each account's AccountChargesRatedV1 envelope: rating's "
                             "fast wire builder, or the same through the validated contract")


def build_rating_workload(accounts: int, per_account: int):
    """A synthetic month-2026-05 run: accounts in three zones, each with `per_account` items
    billed through April (so each run bills May in advance, the typical monthly run)."""
    from services.rating.pricing import Account, BilledLedger, Catalog, Product, Subscription

    products = [Product(f"P{i:03d}", "recurring", Decimal(f"{10 + i}.99"), minimum_days=30) for i in range(10)]
    catalog = Catalog.of("USD", products)
    zones = ("UTC", "Europe/Berlin", "America/New_York")
    start = datetime(2025, 6, 15, 9, 30, tzinfo=timezone.utc)
    billed = date(2026, 5, 1)
    work = []
    for a in range(accounts):
        account = Account(f"acct-{a}", zones[a % 3], "USD")
        subs = [Subscription(f"s-{a}-{k}", account.id, products[(a + k) % 10].part_number, start, 1 + k % 3)
                for k in range(per_account)]
        work.append((account, subs, BilledLedger({s.id: billed for s in subs})))
    return catalog, work


def run_rating(args: argparse.Namespace) -> int:
    """Time the pure rating core over the workload `args.runs` times; print the median rate last."""
    from services.rating.pricing import billing_run

    catalog, work = build_rating_workload(args.accounts, args.subscriptions)
    month = (2026, 5)
    wire = _wire(args.wire)
    rates, lines = [], 0
    for n in range(args.runs):
        began = time.perf_counter()
        lines = 0
        for account, subs, ledger in work:
            result = billing_run(month, account, catalog, subs, (), (), ledger)
            lines += len(result.lines)
            if wire is not None:
                wire(account, result)
        elapsed = time.perf_counter() - began
        rates.append(lines / elapsed)
        print(f"run {n + 1}: {lines} lines in {elapsed:.3f} s = {lines / elapsed:,.0f} lines/s")
    print(json.dumps({"bench": "rating", "accounts": args.accounts, "runs": args.runs, "lines": lines,
                      **({"wire": args.wire} if args.wire else {}),
                      "lines_per_second": round(statistics.median(rates)),
                      "min_lines_per_second": round(min(rates)), "max_lines_per_second": round(max(rates))}))
    return 0


def _wire(kind: str | None):
    """None, or a function encoding one account's result as rating publishes it (`kind` picks the
    builder: rating's fast one or the validated contract's)."""
    if kind is None:
        return None
    from services.rating import wire
    from services.rating.domain import AccountRating

    build = wire.charges_envelope if kind == "fast" else wire.charges_envelope_checked
    now = datetime(2026, 5, 1, 3, tzinfo=timezone.utc)

    def encode(account, result) -> bytes:
        rating = AccountRating(account.id, "invoice", account.currency, account.time_zone, 30, result)
        return build("bench-run", "2026-05", rating, "rating", now, None).encode()
    return encode


def _lazy(module: str):
    """A bench module, imported when its command runs (its clients load only then)."""
    return importlib.import_module(f"cli.{module}")


# name -> (help, argument setup, command). Add a benchmark by adding an entry.
def _billing_run_arguments(parser: argparse.ArgumentParser) -> None:
    from cli import bench_billing_run

    bench_billing_run.arguments(parser)


def _invoicing_arguments(parser: argparse.ArgumentParser) -> None:
    from cli import bench_invoicing

    bench_invoicing.arguments(parser)


def run_invoicing(args: argparse.Namespace) -> int:
    from cli import bench_invoicing

    return bench_invoicing.run(args)


def run_billing_run(args: argparse.Namespace) -> int:
    from cli import bench_billing_run

    return bench_billing_run.run(args)


def _prepaid_arguments(parser: argparse.ArgumentParser) -> None:
    from cli import bench_prepaid

    bench_prepaid.arguments(parser)


def run_prepaid(args: argparse.Namespace) -> int:
    from cli import bench_prepaid

    return bench_prepaid.run(args)


_BENCHES = {
    "rating": ("time the pure pricing core on a large synthetic run", _rating_arguments, run_rating),
    "billing-run": ("one billing run end to end through Kafka and PostgreSQL (rating and invoicing "
                    "as processes)", _billing_run_arguments, run_billing_run),
    "invoicing": ("rated charges to issued and published invoices: the invoicing service alone, in this "
                  "process, on the real Kafka and PostgreSQL", _invoicing_arguments, run_invoicing),
    "prepaid": ("one midnight's daily usage debits of N prepaid accounts end to end through Kafka and "
                "PostgreSQL (rating and prepaid_credit as processes)", _prepaid_arguments, run_prepaid),
    "ingest": ("usage records through Kafka (or rating's POST /v1/usage) until rating stored them: "
               "records/s, then p50/p99 latency at a fixed rate", lambda p: _lazy("bench_ingest").arguments(p),
               lambda a: _lazy("bench_ingest").run(a)),
    "portal": ("the portal's pages (dashboard, usage, invoices, statements) for an account with a year of "
               "history, through a signed-in session", lambda p: _lazy("bench_portal").arguments(p),
               lambda a: _lazy("bench_portal").run(a)),
}
