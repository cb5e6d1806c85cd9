"""`billing demo`: on an empty platform, load a small demo through the real interfaces (a partner,
a Full Brand, customers, features, usage, two monthly runs) and print what it produced."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

from cli import http as cli_http

DEMO = Path(__file__).parent / "demo.json"
NAMESPACE = "demo-"


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="load the demo on an empty platform; print invoices and addresses")
    demo.add_argument("--provisioning-url", default=os.environ.get("PROVISIONING_URL", "http://127.0.0.1:8001"))
    demo.add_argument("--invoicing-url", default=os.environ.get("INVOICING_URL", "http://127.0.0.1:8005"))
    demo.add_argument("--timeout", type=float, default=120.0)
    demo.set_defaults(func=run)


def _addresses(args: argparse.Namespace) -> str:
    rows = [("provisioning (Onboarding API)", args.provisioning_url),
            ("auto_provisioning", os.environ.get("AUTO_PROVISIONING_URL", "http://127.0.0.1:8002")),
            ("rating", os.environ.get("RATING_URL", "http://127.0.0.1:8003")),
            ("prepaid_credit", os.environ.get("PREPAID_CREDIT_URL", "http://127.0.0.1:8004")),
            ("invoicing", args.invoicing_url),
            ("disputes", os.environ.get("DISPUTES_URL", "http://127.0.0.1:8006"))]
    lines = ["HTTP APIs (OpenAPI docs at /docs):"]
    lines += [f"  {name:<30} {url}/docs" for name, url in rows]
    keys = cli_http.keys_dir()
    lines += ["API keys (`Authorization: Bearer $(cat FILE)`; `billing keys list`):",
              f"  operator                       {keys / 'operator.key'}",
              f"  demo partner (demo-partner)    {keys / 'demo-partner.key'}",
              f"  hashed key file the services read: {cli_http.key_file()}"]
    lines += [f"Partner portal: {os.environ.get('PORTAL_URL', 'http://127.0.0.1:8080')}",
              "  sign in as the demo partner: {}  password: {}".format(*_portal_sign_in())]
    lines += ["AsyncAPI documents:",
              f"  {args.provisioning_url}/asyncapi.json (served by every HTTP service)",
              f"  {Path(__file__).resolve().parents[2] / 'contracts' / 'asyncapi.json'}"]
    return "\n".join(lines)


def _portal_sign_in() -> tuple[str, str]:
    from cli.portal import demo_user
    from cli.keys import DEMO_PARTNER

    try:
        return demo_user(DEMO_PARTNER)
    except Exception as exc:  # the portal's schema or secrets unreachable: the rest of the demo stands
        return "(no portal user)", f"({type(exc).__name__}: {exc})"


def _print_invoices(invoices: list[dict], namespace: str) -> None:
    for inv in invoices:
        print(f"invoice {inv.get('invoice_number', '')} for {namespace}{inv['account']} {inv['month']}: "
              f"issued {inv['issue_date']}, due {inv['due_date']}, total {inv['total']} {inv.get('currency', '')}")
        for line in inv["lines"]:
            what = line.get("subscription") or "usage"
            print(f"    {what:<18} {line['part_number']:<15} {line['from']} .. {line['to']}  "
                  f"x{line['quantity']:<6} {line['amount']:>10}")


def run(args: argparse.Namespace) -> int:
    from cli.scenarios import load_scenario
    from cli.scenarios.replay import Endpoints, ReplayError, replay_scenario

    try:
        with cli_http.client(timeout=10) as http:
            answer = http.get(f"{args.provisioning_url}/v1/accounts")
    except httpx.HTTPError as exc:
        print(f"the platform does not answer at {args.provisioning_url} ({exc}): run `make up`", file=sys.stderr)
        return 3
    if answer.status_code != 200:
        print(f"the platform refused the operator key ({answer.status_code} {answer.text}): "
              f"set BILLING_API_KEY or run `billing keys init`", file=sys.stderr)
        return 3
    accounts = answer.json()
    if accounts:
        print(f"the platform already holds {len(accounts)} account(s): demo not loaded again")
        ours = [a["account_id"] for a in accounts if a["account_id"].startswith(NAMESPACE)]
        for account in ours:
            with cli_http.client(timeout=10) as http:
                invoices = http.get(f"{args.invoicing_url}/v1/accounts/{account}/invoices").json()
            for inv in invoices if isinstance(invoices, list) else ():
                print(f"invoice {inv['invoice_number']} for {account} {inv['month']}: total {inv['total']} "
                      f"{inv['currency']}, {inv['status']}")
    else:
        print("loading the demo: a partner with a Full Brand, two customers, features, fax usage, "
              "and the October and November 2026 runs ...", flush=True)
        try:
            result = replay_scenario(load_scenario(DEMO), Endpoints(args.provisioning_url, args.invoicing_url,
                                                                    args.timeout), namespace=NAMESPACE)
        except (ReplayError, OSError) as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            return 3
        _print_invoices(result["invoices"], NAMESPACE)
    print(_addresses(args))
    return 0
