"""Operator commands for accounts set aside: `billing quarantine` (what rating and invoicing
quarantined, and what the periodic tasks skip), `billing rerate` (rate a quarantined account
again once fixed), `billing reinvoice` (issue a quarantined charge's invoice once fixed),
`billing pending-charges` (charges waiting for an unknown account)."""

from __future__ import annotations

import argparse
import json
import os

import httpx

from cli import http as cli_http
from cli.runs import request_run


def _url(service: str, port: int) -> str:
    return os.environ.get(f"{service.upper()}_URL",
                          f"http://127.0.0.1:{os.environ.get(f'{service.upper()}_HTTP_PORT', port)}")


def _client(url: str) -> httpx.Client:
    return cli_http.client(url)


def register(subparsers) -> None:
    q = subparsers.add_parser("quarantine", help="accounts set aside by rating and invoicing, and why")
    q.add_argument("--month", help="YYYY-MM")
    q.add_argument("--account")
    q.add_argument("--resolved", action="store_true", help="also those rated or invoiced since")
    q.set_defaults(func=_refusals(quarantine))

    r = subparsers.add_parser("rerate", help="rate accounts quarantined by rating again, once fixed")
    r.add_argument("--month", required=True, help="YYYY-MM")
    r.add_argument("--account", action="append", dest="accounts", required=True, help="repeatable")
    r.add_argument("--force", action="store_true", help="even if rating has no open quarantine for it")
    r.add_argument("--wait", action="store_true", help="wait until the re-rate's run is reconciled")
    r.add_argument("--timeout", type=float, default=600)
    r.set_defaults(func=_refusals(rerate))

    i = subparsers.add_parser("reinvoice", help="issue the invoice of charges quarantined by invoicing, once fixed")
    i.add_argument("--month", required=True, help="YYYY-MM")
    i.add_argument("--account", required=True)
    i.add_argument("--payment-terms", type=int, help="correct the charge's payment terms (days)")
    i.set_defaults(func=_refusals(reinvoice))

    p = subparsers.add_parser("pending-charges", help="charges waiting for an account invoicing does not know, "
                                                      "and those that expired into the quarantine")
    p.set_defaults(func=_refusals(pending_charges))


class Refused(Exception):
    """A service refused the command's request: printed, exit 2."""


def _get(http: httpx.Client, path: str, **params) -> list | dict:
    response = http.get(path, params=params or None)
    if response.status_code != 200:
        raise Refused(f"refused ({response.status_code}): {response.text}")
    return response.json()


def _refusals(func):
    """Exit 2 with the service's reason when it refuses a request (a 4xx with a reason code) or
    cannot be reached."""
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except Refused as exc:
            print(exc)
        except httpx.TransportError as exc:
            print(f"cannot reach {exc.request.url}: {exc}")
        return 2
    return run


def _table(title: str, rows: list[dict], columns: tuple[str, ...]) -> None:
    print(f"{title}: {len(rows)}")
    for row in rows:
        print("  " + "  ".join(f"{c}={row.get(c)}" for c in columns if row.get(c) is not None))


def quarantine(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("month", args.month), ("account", args.account)) if v}
    params["resolved"] = str(args.resolved).lower()
    with _client(_url("rating", 8003)) as rating, _client(_url("invoicing", 8005)) as invoicing, \
            _client(_url("auto_provisioning", 8002)) as auto:
        rated = _get(rating, "/v1/quarantine", **params)
        invoiced = _get(invoicing, "/v1/quarantine", **params)
        skipped = _get(invoicing, "/v1/task-failures")
        try:  # metering's list is an extra: a platform without auto_provisioning still answers
            skipped += _get(auto, "/v1/task-failures")
        except httpx.TransportError as exc:
            print(f"(auto_provisioning not reachable at {exc.request.url}: its skipped accounts are not listed)")
        skipped += _get(rating, "/v1/task-failures")
        try:  # so is the expiry task's: prepaid_credit may not run
            with _client(_url("prepaid_credit", 8004)) as prepaid:
                skipped += _get(prepaid, "/v1/task-failures")
        except httpx.TransportError as exc:
            print(f"(prepaid_credit not reachable at {exc.request.url}: its skipped accounts are not listed)")
    _table("rating (not rated: fix, then `billing rerate`)", rated,
           ("month", "account_id", "run_id", "reason", "error", "resolved_run"))
    _table("invoicing (rated, no invoice: fix, then `billing reinvoice`)", invoiced,
           ("month", "account_id", "run_id", "currency", "total", "reason", "error", "resolved_invoice"))
    _table("skipped by periodic tasks (invoicing's billing_runs and overdue, auto_provisioning's metering, "
           "rating's prepaid_usage, prepaid_credit's expiry)",
           skipped, ("task", "account_id", "reason", "error", "failures"))
    return 0


def rerate(args: argparse.Namespace) -> int:
    """A billing run of the month for the named accounts, through invoicing (which follows it to
    its invoices). Rating rates each account once per month: an account rated meanwhile is not
    rated again."""
    with _client(_url("rating", 8003)) as rating:
        open_ = {q["account_id"] for q in _get(rating, "/v1/quarantine", month=args.month)}
    missing = [a for a in args.accounts if a not in open_]
    if missing and not args.force:
        print(f"rating has no open quarantine for {', '.join(missing)} in {args.month} (--force to run anyway)")
        return 2
    with _client(_url("invoicing", 8005)) as http:
        return request_run(http, {"month": args.month, "account_ids": args.accounts, "requested_by": "rerate"},
                           args.wait, args.timeout, "re-rate run")


def reinvoice(args: argparse.Namespace) -> int:
    body = {"account_id": args.account, "month": args.month, "payment_terms_days": args.payment_terms}
    with _client(_url("invoicing", 8005)) as http:
        response = http.post("/v1/quarantine/reinvoice", json=body)
    if response.status_code != 200:
        print(f"refused ({response.status_code}): {response.text}")
        return 2
    results = response.json()["results"]
    for r in results:
        print(f"run {r['run_id']}: " + (f"invoice {r['invoice']}" if r["invoice"] else
                                         f"still quarantined: {r['reason']}: {r['error']}"))
    return 0 if all(r["invoice"] for r in results) else 1


def pending_charges(args: argparse.Namespace) -> int:
    with _client(_url("invoicing", 8005)) as http:
        waiting = _get(http, "/v1/pending-charges")
        expired = [q for q in _get(http, "/v1/quarantine") if q["reason"] == "pending_charge_expired"]
    _table("waiting for their account", waiting, ("account_id", "event_id", "parked_at", "waiting_hours"))
    _table("expired into the quarantine (open)", expired, ("month", "account_id", "run_id", "total", "error"))
    print(json.dumps({"waiting": len(waiting), "expired": len(expired)}))
    return 0
