"""`billing clock [set INSTANT]`: every service's clock, and moving the manual ones forward
(`BILLING_CLOCK=manual`, docs/manual-clock.md); the helpers the scenario replay uses too."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

import httpx

from cli import http as cli_http
from cli.dead_letters import _default_url
from cli.ops import SERVICES

PATH = "/v1/ops/clock"


class ClockRefused(RuntimeError):
    """A service refused to move its clock, or did not answer."""

    def __init__(self, service: str, reason: str, detail: str) -> None:
        super().__init__(f"{service}: {reason}: {detail}")
        self.service, self.reason = service, reason


def service_urls(services: tuple[str, ...] = SERVICES) -> dict[str, str]:
    """Each service's base URL ($<SERVICE>_URL, else its loopback port), in start order."""
    return {s: _default_url(s) for s in services}


async def read_clocks(http: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, dict]:
    """{service: {"mode", "at"}} of every service in `urls`."""
    async def one(service: str, url: str) -> dict:
        return _answer(service, await _call(service, http.get(url + PATH)))

    return dict(zip(urls, await asyncio.gather(*(one(s, u) for s, u in urls.items()))))


async def move_clocks(http: httpx.AsyncClient, urls: dict[str, str], at: datetime) -> dict[str, list[str]]:
    """Move every service's manual clock to `at`, one service after the other in `urls`' order
    (each answers once its time-driven work up to `at` is done and published). Returns each
    service's periodic tasks whose pass failed; raises ClockRefused."""
    failed = {}
    for service, url in urls.items():
        body = _answer(service, await _call(service, http.put(url + PATH, json={"at": at.isoformat()})))
        failed[service] = body.get("failed_tasks", [])
    return failed


async def _call(service: str, request) -> httpx.Response:
    try:
        return await request
    except httpx.HTTPError as exc:
        raise ClockRefused(service, "unreachable", f"{type(exc).__name__}: {exc}") from None


def _answer(service: str, response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:300]}
    if not response.is_success:
        raise ClockRefused(service, body.get("reason", str(response.status_code)), str(body.get("detail", "")))
    return body


def register(subparsers) -> None:
    parser = subparsers.add_parser("clock", help="show every service's clock; `set` moves the manual ones forward")
    parser.add_argument("--service", action="append", choices=SERVICES,
                        help="only this service (repeatable; default: every service)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for each service")
    parser.set_defaults(func=show)
    verbs = parser.add_subparsers(dest="verb")
    move = verbs.add_parser("set", help="move the manual clocks to INSTANT (forward only) and run what is due")
    move.add_argument("at", type=datetime.fromisoformat, help="an instant with its offset (2026-03-11T00:00:00Z)")
    move.set_defaults(func=set_clock)


def _urls(args: argparse.Namespace) -> dict[str, str]:
    return service_urls(tuple(s for s in SERVICES if not args.service or s in args.service))


def show(args: argparse.Namespace) -> int:
    async def go() -> dict[str, dict]:
        async with cli_http.async_client(timeout=args.timeout) as http:
            return await read_clocks(http, _urls(args))
    try:
        clocks = asyncio.run(go())
    except ClockRefused as exc:
        print(f"clock: {exc}", file=sys.stderr)
        return 2 if exc.reason == "unreachable" else 1
    for service, clock in clocks.items():
        print(f"{service:<18} {clock['mode']:<7} {clock['at']}")
    return 0


def set_clock(args: argparse.Namespace) -> int:
    """Exit codes: 0 moved, 1 refused (or a task's pass failed), 2 a service did not answer."""
    if args.at.tzinfo is None:
        print("clock: the instant needs its offset (Z or +hh:mm)", file=sys.stderr)
        return 2

    async def go() -> dict[str, list[str]]:
        async with cli_http.async_client(timeout=args.timeout) as http:
            return await move_clocks(http, _urls(args), args.at)
    try:
        failed = asyncio.run(go())
    except ClockRefused as exc:
        print(f"clock: {exc}", file=sys.stderr)
        return 2 if exc.reason == "unreachable" else 1
    for service, tasks in failed.items():
        print(f"{service:<18} at {args.at.isoformat()}" + (f"  failed: {', '.join(tasks)}" if tasks else ""))
    return 1 if any(failed.values()) else 0
