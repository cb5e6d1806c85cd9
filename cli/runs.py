"""`billing run-billing --month YYYY-MM [--wait]`: request a billing run through the invoicing
service (recorded in its schema, sent to rating through its outbox) and optionally wait until
the run is reconciled."""

from __future__ import annotations

import argparse
import json
import os
import time

from cli import http as cli_http


def register(subparsers) -> None:
    parser = subparsers.add_parser("run-billing", help="request a billing run for a month (all accounts)")
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--account", action="append", dest="accounts", help="only these accounts (repeatable)")
    parser.add_argument("--url", default=os.environ.get(
        "INVOICING_URL", f"http://127.0.0.1:{os.environ.get('INVOICING_HTTP_PORT', '8005')}"),
        help="the invoicing service (default $INVOICING_URL or http://127.0.0.1:$INVOICING_HTTP_PORT)")
    parser.add_argument("--as-of", help="the run's requested_at instant (ISO 8601 with offset; default: now)")
    parser.add_argument("--wait", action="store_true", help="wait until the run is reconciled")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait with --wait")
    parser.set_defaults(func=run_billing)


def run_billing(args: argparse.Namespace) -> int:
    body = {"month": args.month, "account_ids": args.accounts, "as_of": args.as_of}
    with cli_http.client(args.url) as http:
        return request_run(http, body, args.wait, args.timeout, "run")


def request_run(http, body: dict, wait: bool, timeout: float, what: str) -> int:
    """POST a run request to invoicing, print it and, with `wait`, poll until the run is final (or
    `timeout` seconds passed) and print its summary. Returns the command's exit code."""
    response = http.post("/v1/runs", json=body)
    if response.status_code != 202:
        print(f"refused ({response.status_code}): {response.text}")
        return 2
    run = response.json()
    named = f" for {', '.join(body['account_ids'])}" if body.get("account_ids") else ""
    print(f"{what} {run['run_id']} requested{named} in {run['month']}")
    if not wait:
        return 0
    deadline = time.monotonic() + timeout
    while run["status"] not in FINAL and time.monotonic() < deadline:
        time.sleep(1)
        run = http.get(f"/v1/runs/{run['run_id']}").json()
    print(_summary(run))
    return exit_code(run["status"])


# statuses a run does not leave; exit codes of --wait: 0 reconciled, 3 completed with quarantined
# accounts (every other invoice issued; see the list), 1 mismatch, failed or still open at timeout
FINAL = ("reconciled", "completed_with_quarantine", "mismatch", "failed")
EXIT_QUARANTINE = 3


def exit_code(status: str) -> int:
    return {"reconciled": 0, "completed_with_quarantine": EXIT_QUARANTINE}.get(status, 1)


def _summary(run: dict) -> str:
    summary = run.get("summary") or {}
    lines = [f"status:   {run['status']}",
             f"accounts: {summary.get('accounts', '?')} rated, {run['expected_invoice_accounts']} for invoicing",
             f"invoices: {run['invoices']} (+{run['accounts_without_lines']} accounts without lines)",
             f"totals:   {json.dumps(run['received_totals'])} (expected {json.dumps(run['expected_totals'])})"]
    lines += [f"problem:  {p}" for p in run["problems"]]
    lines += [f"quarantined: {q['account_id']} ({q['stage']}: {q['reason']}: {q['error']})"
              + (f", since invoiced as {q['invoice']}" if q.get("invoice") else "")
              for q in run.get("quarantined", [])]
    return "\n".join(lines)
