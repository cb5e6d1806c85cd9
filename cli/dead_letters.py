"""`billing dead-letters list|show|redrive|discard --service NAME [ID]`: a service's dead letters
through its HTTP API (`/v1/dead-letters`)."""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys

import httpx

from cli import http as cli_http
from cli.ops import SERVICES

TABLE = ("id", "state", "recorded_at", "source", "event_type", "error")


def _default_url(service: str) -> str:
    """$<SERVICE>_URL, else the service's port on loopback ($<SERVICE>_HTTP_PORT or its default)."""
    env = service.upper()
    if os.environ.get(f"{env}_URL"):
        return os.environ[f"{env}_URL"]
    port = os.environ.get(f"{env}_HTTP_PORT") or importlib.import_module(f"services.{service}.app").HTTP_PORT
    return f"http://127.0.0.1:{port}"


def request(args: argparse.Namespace, method: str, path: str, **kwargs) -> httpx.Response:
    """Every HTTP call of this command goes through here."""
    url = args.url or _default_url(args.service)
    with cli_http.client(url, timeout=args.timeout) as http:
        return http.request(method, path, **kwargs)


def register(subparsers) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--service", required=True, choices=SERVICES, help="whose dead letters")
    common.add_argument("--url", help="the service's base URL (default $<SERVICE>_URL or "
                                      "http://127.0.0.1:$<SERVICE>_HTTP_PORT, else its default port)")
    common.add_argument("--timeout", type=float, default=30, help="seconds per HTTP call")
    parser = subparsers.add_parser("dead-letters", help="see, redrive or discard a service's dead letters")
    verbs = parser.add_subparsers(dest="verb", required=True)

    listing = verbs.add_parser("list", parents=[common], help="dead letters, newest first")
    listing.add_argument("--state", choices=("dead", "redriven", "discarded"))
    listing.add_argument("--topic", help="source topic")
    listing.add_argument("--limit", type=int, default=50, help="per page (1 to 500)")
    listing.add_argument("--before", type=int, help="only ids below this one (the next page)")
    listing.add_argument("--json", action="store_true", help="print the page as JSON instead of a table")
    listing.set_defaults(func=list_dead_letters)

    show = verbs.add_parser("show", parents=[common], help="one dead letter with its payload (JSON)")
    show.add_argument("id", type=int)
    show.set_defaults(func=show_dead_letter)

    for verb, text in (("redrive", "send it once more to the consumer that gave up on it"),
                       ("discard", "drop it on purpose (it can no longer be redriven)")):
        act = verbs.add_parser(verb, parents=[common], help=text)
        act.add_argument("id", type=int)
        act.add_argument("--by", default=_whoami(), help="who acts (default: your user name)")
        act.add_argument("--note", help="why, kept on the dead letter")
        act.set_defaults(func=act_on_dead_letter)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return "operator"


def _call(args: argparse.Namespace, method: str, path: str, **kwargs) -> tuple[int, object]:
    """(exit code, body): 0 for a 2xx, 1 for a refusal (printed), 2 when the service is away."""
    try:
        response = request(args, method, path, **kwargs)
    except httpx.HTTPError as exc:
        print(f"cannot reach {args.service}: {exc}", file=sys.stderr)
        return 2, None
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.is_success:
        return 0, body
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    detail = body.get("detail", body) if isinstance(body, dict) else body
    print(f"refused ({response.status_code} {reason}): {detail}", file=sys.stderr)
    return 1, body


def list_dead_letters(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("state", args.state), ("topic", args.topic), ("limit", args.limit),
                                ("before", args.before)) if v is not None}
    code, page = _call(args, "GET", "/v1/dead-letters", params=params)
    if code:
        return code
    if args.json:
        print(json.dumps(page, indent=2, ensure_ascii=False))
        return 0
    print(table(page["items"]))
    if page["next_before"] is not None:
        print(f"(more: --before {page['next_before']})")
    return 0


def table(items: list[dict]) -> str:
    """A fixed-column view: one line per dead letter, the error cut to fit."""
    rows = [TABLE] + [(str(i["id"]), i["state"], i["recorded_at"][:19],
                       f"{i['topic']}[{i['partition']}]@{i['offset']}", i["event_type"] or "-",
                       _one_line(i["error"], 60)) for i in items]
    widths = [max(len(r[c]) for r in rows) for c in range(len(TABLE) - 1)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def show_dead_letter(args: argparse.Namespace) -> int:
    code, body = _call(args, "GET", f"/v1/dead-letters/{args.id}")
    if code == 0:
        print(json.dumps(body, indent=2, ensure_ascii=False))
    return code


def act_on_dead_letter(args: argparse.Namespace) -> int:
    body = {"by": args.by, **({"note": args.note} if args.note else {})}
    code, found = _call(args, "POST", f"/v1/dead-letters/{args.id}/{args.verb}", json=body)
    if code == 0:
        print(json.dumps({k: found[k] for k in ("id", "state", "state_at", "state_by", "consumer", "event_id")}))
    return code
