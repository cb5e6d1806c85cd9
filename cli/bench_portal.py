"""`billing bench portal`: the portal's pages for an account with a year of history, timed through
a signed-in session.

Set-up (not timed): provisioning, rating and invoicing as processes in a namespace of their own;
through the Onboarding API the seed catalogue and one subscription account (Europe/Berlin)
opened 13 months ago with a few features; `--records` usage records spread over its year, with
their dimensions (direction, group, user, number), straight to the usage topic; a billing run of
each month since (its invoice and statement); then the portal as a process and a portal user of
the account. Timed: `--samples` rounds of each page (after a warm-up round), each round the pages
one after the other, as one signed-in browser would ask for them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from random import Random
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaProducer
from dateutil.relativedelta import relativedelta

from cli.consumption import end_offsets, wait_consumed
from cli.namespace import end_bench
from cli.proc_stats import cpu_by_service
from cli.processes import ROOT, ServiceProcess
from contracts import topics, wrap
from contracts.usage import UsageRecordedV1
from shared import apikeys
from shared.kafka_security import client_options
from shared.settings import DEFAULT_KAFKA, database_url, local_secrets, role_env

ACCOUNT, ZONE = "bench-account", "Europe/Berlin"
EMAIL, PASSWORD = "bench@portal.example", "bench-portal-password"
SERVICES = ("provisioning", "rating", "invoicing")
FEATURES = (("XDM00001", 25), ("XDM00020", 2), ("XDM00040", 10))
USERS = 40  # each with its own fax number, in one of GROUPS
GROUPS = ("Sales", "Support", "Billing", "Legal", "Operations", "Management")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--records", type=int, default=100_000, help="usage records over the account's year")
    parser.add_argument("--samples", type=int, default=30, help="timed requests of each page")
    parser.add_argument("--keep", action="store_true", help="keep the bench's schemas and topics")
    parser.add_argument("--timeout", type=float, default=900)


def pages(months: list[str]) -> dict[str, str]:
    """The pages timed: each main page as it opens (this month), the last billed month's billing
    cycle and statement, and the last twelve months of usage (365 or 366 days)."""
    billed = months[-2]
    return {"dashboard": "/dashboard", "usage": "/usage", "usage_cycle": f"/usage?kind=cycle&month={months[-1]}",
            "usage_year": f"/usage?kind=range&from={months[1]}-01&to={_next(months[-1])}-01",
            "inbound_users": "/usage/inbound-users", "invoices": "/invoices", "statements": "/statements",
            "statement": f"/statements/{ACCOUNT}/{billed}"}


def _next(month: str) -> str:
    return (datetime.strptime(month, "%Y-%m") + relativedelta(months=1)).strftime("%Y-%m")


def _history(now: datetime) -> tuple[datetime, list[str]]:
    """The account's opening (the 1st, 13 months back, 00:00 local) and its months billed since."""
    local = now.astimezone(ZoneInfo(ZONE))
    opened = datetime(local.year, local.month, 1, tzinfo=ZoneInfo(ZONE)) - relativedelta(months=13)
    months = [(opened + relativedelta(months=n)).strftime("%Y-%m") for n in range(1, 14)]
    return opened, months


async def _set_up_account(api: httpx.AsyncClient, opened: datetime) -> None:
    catalog = json.loads((ROOT / "cli" / "demo" / "demo.json").read_text())["catalog"]
    for method, path, body in (
            ("PUT", "/v1/catalog", catalog),
            ("POST", "/v1/accounts", {"account_id": ACCOUNT, "name": "Bench Fax Co", "time_zone": ZONE,
                                      "automatic_runs": False, "at": opened.isoformat()})):
        (await api.request(method, path, json=body)).raise_for_status()
    for n, (part, quantity) in enumerate(FEATURES):
        (await api.post("/v1/features", json={"account_id": ACCOUNT, "subscription_id": f"bench-sub-{n}",
                                              "part_number": part, "quantity": quantity,
                                              "at": (opened + timedelta(hours=9)).isoformat()})).raise_for_status()


async def _produce_usage(bootstrap: str, ns: str, records: int, opened: datetime, now: datetime) -> None:
    """`records` usage records spread evenly over [opened, now), each received a minute after use."""
    rnd = Random(13)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True,
                                linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        topic, span, pending = ns + topics.USAGE_RECORDS.name, (now - opened).total_seconds(), []
        for i in range(records):
            used = opened + timedelta(seconds=span * (i + rnd.random()) / records)
            user = rnd.randrange(USERS)
            inbound = rnd.random() < 0.6
            record = UsageRecordedV1(record_id=f"bench-u{i}", account_id=ACCOUNT,
                                     part_number="FAX-PAGE-IN" if inbound else "FAX-PAGE-OUT",
                                     quantity=Decimal(rnd.randint(1, 12)), used_at=used,
                                     received_at=used + timedelta(minutes=1),
                                     direction="inbound" if inbound else "outbound", group=GROUPS[user % len(GROUPS)],
                                     user=f"user-{user:02d}", number=f"+4930555{user:04d}")
            envelope = wrap(record, key=ACCOUNT, producer="bench", occurred_at=used + timedelta(minutes=1))
            pending.append(await producer.send(topic, envelope.encode(), key=ACCOUNT.encode()))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _bill(api: httpx.AsyncClient, months: list[str], timeout: float) -> int:
    """A run of each month, one after the other (rating rates runs oldest first); the invoices."""
    deadline = time.monotonic() + timeout
    for month in months:
        (await api.post("/v1/runs", json={"month": month, "account_ids": [ACCOUNT]})).raise_for_status()
        while not any(i["month"] == month for i in (await api.get(f"/v1/accounts/{ACCOUNT}/invoices")).json()
                      if isinstance(i, dict)):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no invoice of {month} in time")
            await asyncio.sleep(0.2)
    return len((await api.get(f"/v1/accounts/{ACCOUNT}/invoices")).json())


async def _sign_in(portal: httpx.AsyncClient) -> None:
    form = (await portal.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    answer = await portal.post("/login", data={"email": EMAIL, "password": PASSWORD, "next": "/dashboard",
                                               "csrf_token": token.group(1) if token else ""})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in refused: {answer.status_code}")


async def _time_pages(portal: httpx.AsyncClient, paths: dict[str, str], samples: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    for round_ in range(samples + 1):  # round 0 warms up (connections, templates, plans)
        for name, path in paths.items():
            began = time.perf_counter()
            answer = await portal.get(path)
            elapsed = (time.perf_counter() - began) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            if round_:
                times[name].append(elapsed)
    return times


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(args: argparse.Namespace) -> dict:
    from cli.portal import add_user
    from services.portal.settings import PortalSettings

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    database = database_url()  # the admin role: the portal runs as it here, and it drops the namespace
    ns = f"bench{uuid.uuid4().hex[:6]}_"
    log_dir = ROOT / "var" / "bench" / ns
    keys = log_dir / "keys" / "api-keys.json"
    operator, _ = apikeys.create(keys, "operator", None, "bench", datetime.now(timezone.utc))
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": database, "BILLING_TOPIC_PREFIX": ns,
           "BILLING_SCHEMA_PREFIX": ns, "BILLING_API_KEYS_FILE": str(keys)}
    services = {name: ServiceProcess(name, {**env, **role_env(database, local_secrets(bootstrap, ROOT), [name])},
                                     log_dir) for name in SERVICES}
    started: list[ServiceProcess] = []
    try:
        for proc in services.values():
            started.append(proc.start(timeout=120))
        now = datetime.now(timezone.utc)
        opened, months = _history(now)
        began = time.perf_counter()
        headers = {"Authorization": f"Bearer {operator}"}
        async with httpx.AsyncClient(base_url=services["provisioning"].url, headers=headers, timeout=60) as api:
            await _set_up_account(api, opened)
        print(f"setup: {args.records} usage records over {months[0]}..{months[-1]}", flush=True)
        await _produce_usage(bootstrap, ns, args.records, opened, now)
        fed = await end_offsets(bootstrap, [ns + topics.USAGE_RECORDS.name, ns + topics.PROVISIONING_EVENTS.name])
        for group in ("rating", "invoicing"):
            await wait_consumed(bootstrap, ns + group, fed, args.timeout, "the set-up's usage and accounts")
        async with httpx.AsyncClient(base_url=services["invoicing"].url, headers=headers, timeout=60) as api:
            invoices = await _bill(api, months[:-1], args.timeout)  # this month is not billed yet
        portal_env = {**env, **{f"{name.upper()}_URL": proc.url for name, proc in services.items()},
                      "PORTAL_SECRETS_FILE": str(log_dir / "portal-secrets.json")}
        os.environ.update(portal_env)  # add_user reads the portal's settings from the environment
        await add_user(ACCOUNT, EMAIL, "partner", PASSWORD, keys, PortalSettings.from_env())
        portal = ServiceProcess("portal", portal_env, log_dir)
        started.append(portal.start(timeout=120))
        print(f"setup: done in {time.perf_counter() - began:.1f} s ({invoices} invoices); timing the pages",
              flush=True)
        async with httpx.AsyncClient(base_url=portal.url, timeout=60) as browser:
            await _sign_in(browser)
            cpu = cpu_by_service(started)
            began = time.perf_counter()
            times = await _time_pages(browser, pages(months), args.samples)
            seconds = time.perf_counter() - began
        used = cpu_by_service(started)
        requests = sum(len(t) for t in times.values())
        # rating's usage API alone (this month, the last twelve), to tell its share from the portal's
        async with httpx.AsyncClient(base_url=services["rating"].url, headers=headers, timeout=60) as rating:
            api_times = await _time_pages(rating, {
                "usage_api": f"/v1/accounts/{ACCOUNT}/usage?month={months[-1]}",
                "usage_api_year": f"/v1/accounts/{ACCOUNT}/usage?from={months[1]}-01&to={_next(months[-1])}-01",
                "dashboard_api": f"/v1/accounts/{ACCOUNT}/usage/dashboard?month={months[-1]}"}, args.samples)
        return {"bench": "portal", "records": args.records, "invoices": invoices, "samples": args.samples,
                "pages_ms": {name: {"median": round(statistics.median(t), 1), "p95": round(_percentile(t, 0.95), 1)}
                             for name, t in times.items()},
                "api_ms": {name: {"median": round(statistics.median(t), 1), "p95": round(_percentile(t, 0.95), 1)}
                           for name, t in api_times.items()},
                # CPU per page of each process (the database's is not counted): other work on the
                # machine does not move it as it moves the wall-clock times
                "cpu_ms_per_page": {name: round((used[name] - cpu[name]) / requests * 1000, 2) for name in used},
                "seconds": round(seconds, 1), "load_average": [round(x, 2) for x in os.getloadavg()]}
    finally:
        await end_bench(bootstrap, database, ns, started, args.keep)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(asyncio.run(_bench(args))))
    return 0
