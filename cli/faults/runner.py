"""One fault, end to end: a fresh namespace, the workload, the billing run, the fault at its
point, the platform left to settle, the disputes, then the invariants; returns the fault's summary."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime, timezone

import asyncpg

from cli.faults import disputes, invariants, snapshot
from cli.faults.infra import OwnInfra
from cli.faults.platform import Platform, consumed
from cli.faults.schedule import Fault
from cli.faults.workload import PRODUCTS, Workload
from cli.namespace import drop_namespace
from cli.ops import SERVICES
from shared.kafka_security import KafkaSecurity


async def run_fault(seed: int, index: int, fault: Fault, infra: OwnInfra, log_root, api_key: str, keys_file,
                    keep: bool = False, accounts: int = 24) -> dict:
    began = time.perf_counter()
    prefix = f"f{seed % 100000}x{index}_{uuid.uuid4().hex[:4]}_"  # unique: two runs of a seed may overlap
    rng = random.Random(f"{seed}/{fault.name}")  # the fault's own stream: --only replays it alike
    workload = Workload.draw(rng, prefix, datetime.now(timezone.utc), accounts)
    platform = Platform(prefix, tuple(SERVICES), log_root / prefix, api_key, keys_file)
    db = None
    result = {"seed": seed, **fault.as_dict(), "namespace": prefix}
    phases = result["phases"] = {}  # seconds each step took (where a slow fault spends its time)

    def mark(phase: str) -> None:
        phases[phase] = round(time.perf_counter() - began - sum(phases.values()), 1)
    try:
        at_start = fault.kind == "kill" and not fault.phase
        await platform.start(fault.service if at_start else "", fault.env if at_start else "")
        mark("started")
        if fault.kind == "poison":
            await _poison(platform)
        await _feed(platform, workload)
        await _vouchers(platform, workload)
        mark("fed")
        run = await _billing_run(platform, workload, fault, infra, result)
        mark("run")
        db = await asyncpg.connect(platform.database)  # after the run: a PostgreSQL restart cut none
        await platform.quiesce(db)
        mark("settled")
        if fault.phase == "disputes":  # armed now: its n counts the passes of the disputes only
            await platform.stop_one(fault.service)
            await platform.start_one(fault.service, fault.env)
        asked = await disputes.dispute(platform, db, workload)
        await platform.quiesce(db)
        mark("disputed")
        if fault.kind == "group-reset":  # after the disputes: the replay meets their resolutions
            await _reset_group(platform, fault.service)
            await platform.quiesce(db)
            mark("replayed")
        run = (await platform.call("invoicing", "GET", f"/v1/runs/{run['run_id']}")).json()
        snap = await snapshot.load(platform.database, prefix, workload, run, asked)
        found = invariants.check(snap)
        if fault.kind == "poison":
            found["poison_dead_lettered"] = await _poison_missing(db, platform)
        result |= {
            "fired": any(code == -9 for _, code in platform.exits) if fault.kind == "kill" else True,
            "restarts": len(platform.exits),
            "invoices": len(snap.invoices),
            # what the money and licence checks had to check (none: they checked nothing)
            "disputes": len(asked), "credit_notes": len(snap.credit_notes), "refunds": len(snap.refunds),
            "licences": len(snap.licences),
            "invariants": {name: "ok" if not bad else bad for name, bad in found.items()},
            "ok": not any(found.values()),
        }
    except Exception as exc:  # the platform did not settle: a failure of the fault, not of the suite
        result |= {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    finally:
        await platform.stop()
        if db is not None:
            await db.close()
        if not keep:
            try:
                await drop_namespace(platform.kafka, platform.database, prefix)
            except Exception:  # noqa: BLE001 - clean-up is best effort; the namespace is unique
                pass
    result["seconds"] = round(time.perf_counter() - began, 1)
    return result


async def _feed(platform: Platform, workload: Workload) -> None:
    """Publish the workload: the catalogue also through provisioning (the routed accounts' commands
    need it), the facts, the routed accounts' commands; once provisioning has opened those, their
    platform users (auto_provisioning asks provisioning for their licences) and the usage."""
    r = await platform.call("provisioning", "PUT", "/v1/catalog",
                            json={"currency": "USD", "products": [p.model_dump(mode="json") for p in PRODUCTS]})
    assert r.status_code == 200, r.text
    events, usage = workload.facts()
    await platform.publish("provisioning.events", [(e.key, e.encode()) for e in events])
    await platform.publish("provisioning.commands", [(e.key, e.encode()) for e in workload.commands()])
    db = await asyncpg.connect(platform.database)  # its own: a PostgreSQL restart comes later
    try:
        await platform.quiesce(db)  # a licence for a customer provisioning does not know yet is refused
        await platform.publish("platform.users", [(e.key, e.encode()) for e in workload.platform_users()])
        await platform.publish("usage.records", [(e.key, e.encode()) for e in usage])
        await platform.quiesce(db)
    finally:
        await db.close()


async def _vouchers(platform: Platform, workload: Workload) -> None:
    """Each prepaid account redeems one voucher, the day its account opened."""
    for account in workload.prepaid():
        code = "".join(c for c in account.account_id.upper() if c.isalnum()) + "V"  # 4..32 letters, digits
        body = {"codes": [code], "credits": str(account.voucher), "lifetime_days": 365}
        r = await platform.call("prepaid_credit", "POST", "/v1/vouchers", json=body)
        assert r.status_code in (201, 409), r.text
        at = workload.start.replace(hour=12).isoformat()
        r = await platform.call("prepaid_credit", "POST", f"/v1/accounts/{account.account_id}/redemptions",
                                json={"code": code, "at": at})
        assert r.status_code in (201, 409), r.text


async def _billing_run(platform: Platform, workload: Workload, fault: Fault, infra: OwnInfra, result: dict) -> dict:
    """Request the month's run; an infrastructure fault strikes once it is under way; wait until
    it reconciles."""
    r = await platform.call("invoicing", "POST", "/v1/runs", json={"month": workload.month, "requested_by": "faults"})
    assert r.status_code in (200, 201, 202), r.text
    run = r.json()
    if fault.kind in ("kafka-restart", "postgres-restart"):
        run = (await platform.call("invoicing", "GET", f"/v1/runs/{run['run_id']}")).json()
        result["mid_run"] = run.get("status") != "reconciled"
        restart = infra.restart_kafka if fault.kind == "kafka-restart" else infra.restart_postgres
        await asyncio.to_thread(restart)
    deadline = time.monotonic() + 300
    while run.get("status") != "reconciled":
        if time.monotonic() > deadline:
            raise TimeoutError(f"run did not reconcile: {run}")
        await asyncio.sleep(0.5)
        run = (await platform.call("invoicing", "GET", f"/v1/runs/{run['run_id']}")).json()
    return run


async def _poison(platform: Platform) -> None:
    """An undecodable record on every topic a running service consumes."""
    for name in sorted({t for s in platform.services for t in consumed(s)}):
        await platform.publish(name, [("poison", b"\x00poison: not an envelope")])


async def _poison_missing(db, platform: Platform) -> list[str]:
    """Each running service dead-lettered the poison record of each topic it consumes."""
    missing = []
    for service in platform.services:
        rows = await db.fetch(f'SELECT DISTINCT topic FROM "{platform.prefix}{service}".dead_letters')
        got = {r["topic"] for r in rows}
        missing += [f"{service} did not dead-letter the poison on {t}" for t in consumed(service)
                    if platform.topic(t) not in got]
    return missing


async def _reset_group(platform: Platform, service: str) -> None:
    """Stop `service`, delete its consumer group (it reads every topic again from offset 0), start it."""
    from confluent_kafka.admin import AdminClient

    await platform.stop_one(service)
    admin = AdminClient({"bootstrap.servers": platform.kafka, **KafkaSecurity.from_env().librdkafka()})
    group = platform.prefix + service
    for _ in range(240):  # a member that died stays until its session times out
        try:
            admin.delete_consumer_groups([group])[group].result(10)
            break
        except Exception as exc:
            if "NON_EMPTY_GROUP" not in str(exc):
                raise
            await asyncio.sleep(0.5)
    await platform.start_one(service)
