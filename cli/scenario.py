"""`billing scenario run FILE [--check]`: price a scenario file with the platform's own code."""

from __future__ import annotations

import argparse
import json
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


def run_command(args: argparse.Namespace) -> int:
    """Exit codes: 0 ok, 1 differences found (--check), 2 invalid scenario file."""
    try:
        scenario = load_scenario(args.file)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        return 2
    result = run_scenario(scenario)
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
