"""`billing scenario run FILE [--check]`: price a scenario file with the platform's own code;
`billing scenario replay FILE [--check]`: the same through the running platform's interfaces."""

from __future__ import annotations

import argparse
import json
import os
import sys

from cli.scenarios import ScenarioError, diff, load_scenario, run_scenario


def register(subparsers) -> None:
    """Add the `scenario` command and its `run` subcommand."""
    scenario = subparsers.add_parser("scenario", help="run billing scenarios (invoice previews)")
    sub = scenario.add_subparsers(dest="scenario_command", required=True)
    run = sub.add_parser("run", help="print the invoices, terminations and rejections of a scenario file")
    run.add_argument("file", help="scenario JSON file")
    run.add_argument("--check", action="store_true", help="compare with the file's `expected`; exit 1 on differences")
    run.set_defaults(func=run_command)
    replay = sub.add_parser("replay", help="drive the running platform with a scenario's events and print the "
                                           "invoices it issued")
    replay.add_argument("file", help="scenario JSON file")
    replay.add_argument("--check", action="store_true", help="compare with the file's `expected`; exit 1 on differences")
    replay.add_argument("--provisioning-url", default=os.environ.get("PROVISIONING_URL", "http://127.0.0.1:8001"))
    replay.add_argument("--invoicing-url", default=os.environ.get("INVOICING_URL", "http://127.0.0.1:8005"))
    replay.add_argument("--prepaid-credit-url", default=os.environ.get("PREPAID_CREDIT_URL", "http://127.0.0.1:8004"))
    replay.add_argument("--disputes-url", default=os.environ.get("DISPUTES_URL", "http://127.0.0.1:8006"))
    replay.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each step")
    replay.set_defaults(func=replay_command)


def _load(path: str):
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return None


def run_command(args: argparse.Namespace) -> int:
    """Exit codes: 0 ok, 1 differences found (--check), 2 invalid scenario file."""
    scenario = _load(args.file)
    if scenario is None:
        return 2
    return _report(args, scenario, run_scenario(scenario))


def replay_command(args: argparse.Namespace) -> int:
    """Exit codes as for `run`; 3 when the platform did not answer as expected."""
    from cli.scenarios.replay import Endpoints, ReplayError, replay_scenario

    scenario = _load(args.file)
    if scenario is None:
        return 2
    try:
        result = replay_scenario(scenario, Endpoints(args.provisioning_url, args.invoicing_url, args.timeout,
                                                     prepaid_credit=args.prepaid_credit_url,
                                                     disputes=args.disputes_url))
    except (ReplayError, OSError) as exc:
        print(f"{args.file}: replay failed: {exc}", file=sys.stderr)
        return 3
    return _report(args, scenario, result)


def _report(args: argparse.Namespace, scenario, result: dict) -> int:
    if not args.check:
        print(json.dumps(result, indent=1, ensure_ascii=False))
        return 0
    if scenario.expected is None:
        print(f"{args.file}: no `expected` member to check against", file=sys.stderr)
        return 2
    problems = diff(scenario.expected, result)
    for problem in problems:
        print(problem)
    print(f"{scenario.name}: {'FAILED, ' + str(len(problems)) + ' difference(s)' if problems else 'ok'}")
    return 1 if problems else 0
