"""Automatic provisioning end to end: provisioning and auto_provisioning as processes on the real
broker and database. A platform sends 10,000 user events (duplicated, shuffled, a few lost),
then full snapshots: the Insights User licences end up exactly the snapshots' users, and each
licence change is a provisioning event at a platform instant."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from contracts import wrap
from contracts.platform import (
    AnalyticsEnabledV1, SnapshotUserV1, UserAddedV1, UserCountReportedV1, UserRemovedV1, UsersSnapshotV1,
    UserVoiceDisabledV1, UserVoiceEnabledV1,
)
from contracts.envelope import Envelope
from cli.consumption import end_offsets, wait_consumed
from contracts.registry import parse
from tests.support.http import client
from tests.support.kafka import publish_envelopes, read_all, read_to_end
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra

ACCOUNT = "acme"
CUSTOMERS = ["c0", "c1", "c2", "c3"]
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
SNAPSHOT_AT = datetime(2026, 3, 31, 12, tzinfo=timezone.utc)
TOTAL_EVENTS = 10_000



def _timelines(rng: random.Random, users: int):
    """Per user, its platform events in time order: added, then voice changes, removal, re-adding."""
    timelines = {}
    for i in range(users):
        key = (CUSTOMERS[i % len(CUSTOMERS)], f"u{i:05d}")
        at = T0 + timedelta(minutes=10 + i)
        events = [("added", at, rng.random() < 0.5)]
        for _ in range(rng.randint(0, 3)):
            at += timedelta(hours=rng.randint(1, 48))
            present = events[-1][0] != "removed"
            kind = rng.choice(["voice_on", "voice_off", "removed"]) if present else "added"
            events.append((kind, at, rng.random() < 0.5))
        timelines[key] = events
    return timelines


def _final(events) -> tuple[bool, bool]:
    present = voice = False
    for kind, _, flag in events:
        present, voice = {"added": (True, flag), "removed": (False, False),
                          "voice_on": (True, True), "voice_off": (True, False)}[kind]
    return present, voice


def _envelope(customer: str, user: str, kind: str, at: datetime, flag: bool) -> Envelope:
    common = dict(account_id=ACCOUNT, customer_id=customer, user_id=user, at=at)
    payload = {"added": lambda: UserAddedV1(**common, voice_enabled=flag),
               "removed": lambda: UserRemovedV1(**common),
               "voice_on": lambda: UserVoiceEnabledV1(**common),
               "voice_off": lambda: UserVoiceDisabledV1(**common)}[kind]()
    return wrap(payload, key=ACCOUNT, producer="platform", occurred_at=at)


async def test_licences_follow_10000_shuffled_events_and_the_snapshot(services, db, namespace, infra):
    prov_port, auto_port = free_port(), free_port()
    services("provisioning", prov_port, BILLING_POOL_MAX="4")
    services("auto_provisioning", auto_port, BILLING_POOL_MAX="4")
    async with client(f"http://127.0.0.1:{prov_port}") as http:
        r = await http.put("/v1/catalog", json={"products": [
            {"part_number": "XDM00001", "name": "Insights User", "kind": "recurring", "unit_price": "12.00",
             "minimum_days": 30}]})
        assert r.status_code == 200, r.text
        assert (await http.post("/v1/accounts", json={"account_id": ACCOUNT, "at": T0.isoformat()})).status_code == 201
        for c in CUSTOMERS:
            r = await http.post("/v1/customers", json={"account_id": ACCOUNT, "customer_id": c,
                                                       "at": T0.isoformat()})
            assert r.status_code == 201, r.text

    rng = random.Random(20260301)
    timelines = _timelines(rng, 2600)
    base = [(key, ev) for key, events in timelines.items() for ev in events]
    lost = set(rng.sample(range(len(base)), len(base) // 100))  # the snapshot must repair these
    sent = [_envelope(c, u, kind, at, flag) for i, ((c, u), (kind, at, flag)) in enumerate(base) if i not in lost]
    while len(sent) < TOTAL_EVENTS:  # duplicates: redelivered envelopes and re-sent events
        (c, u), (kind, at, flag) = base[rng.randrange(len(base))]
        sent.append(rng.choice(sent) if rng.random() < 0.5 else _envelope(c, u, kind, at, flag))
    rng.shuffle(sent)
    assert len(sent) == TOTAL_EVENTS

    truth = {key: _final(events) for key, events in timelines.items()}
    snapshots = [wrap(UsersSnapshotV1(account_id=ACCOUNT, customer_id=c, at=SNAPSHOT_AT, users=[
        SnapshotUserV1(user_id=u, voice_enabled=voice) for (cc, u), (present, voice) in sorted(truth.items())
        if cc == c and present]), key=ACCOUNT, producer="platform", occurred_at=SNAPSHOT_AT) for c in CUSTOMERS]
    analytics = [wrap(AnalyticsEnabledV1(account_id=ACCOUNT, customer_id=c, at=T0), key=ACCOUNT,
                      producer="platform", occurred_at=T0) for c in CUSTOMERS]
    await publish_envelopes(infra.kafka, f"{namespace}platform.users", analytics + sent + snapshots)

    expected = {key for key, (present, _) in truth.items() if present}
    schema = f"{namespace}provisioning"

    async def licences_match():
        rows = await db.fetch(f"SELECT subscription_id, customer_id FROM {schema}.subscriptions "
                              "WHERE part_number = 'XDM00001' AND ended_at IS NULL")
        held = {(r["customer_id"], r["subscription_id"].split("-")[2]) for r in rows}
        settled = await db.fetchval(f"SELECT count(*) FROM {namespace}auto_provisioning.outbox") == 0
        return settled and held == expected and len(rows) == len(expected)

    await eventually(licences_match, timeout=100, interval=1, what="licences equal the snapshot's users")
    # auto_provisioning's outbox is empty, so its commands are all on Kafka; provisioning may still
    # be working through them (a removal and re-adding leave the licences as they were)
    commands = await end_offsets(infra.kafka, [f"{namespace}provisioning.commands"])
    await wait_consumed(infra.kafka, f"{namespace}provisioning", commands, what="every licence command")
    await eventually(lambda: _empty_outbox(db, schema), what="provisioning outbox relayed")

    # every licence change is an event on provisioning.events, at a platform instant of that user
    instants = defaultdict(set)
    for (c, u), events in timelines.items():
        instants[(c, u)] = {at for _, at, _ in events} | {SNAPSHOT_AT}
    changes = await db.fetchval(f"SELECT count(*) FROM {schema}.inbox")
    records = await read_to_end(infra.kafka, f"{namespace}provisioning.events")
    opened, ended = {}, {}
    for record in records:
        envelope = Envelope.decode(record.value)
        event = parse(envelope)
        if envelope.type == "provisioning.feature.provisioned":
            opened[event.subscription_id] = event
        elif envelope.type == "provisioning.feature.removed":
            ended[event.subscription_id] = event
    assert len(opened) + len(ended) == changes  # one event per licence command, none refused
    for sub, event in opened.items():
        _, c, u, _ = sub.split("-")
        assert event.at in instants[(c, u)], (sub, event.at)
        assert event.customer_id == c and event.quantity == 1
    for sub, event in ended.items():
        _, c, u, _ = sub.split("-")
        assert event.at in instants[(c, u)] and event.at >= opened[sub].at, (sub, event.at)
    assert {(s.split("-")[1], s.split("-")[2]) for s in opened if s not in ended} == expected
    rejections = await read_all(infra.kafka, f"{namespace}platform.rejections", expect=1, timeout=2)
    assert rejections == []

    # the metering point's count is the snapshot's enterprise-voice users
    async with client(f"http://127.0.0.1:{auto_port}") as http:
        r = await http.post("/v1/metering", json={"at": "2026-04-01T00:00:00Z"})
        assert r.status_code == 200, r.text
    voice = sum(1 for present, v in truth.values() if present and v)
    counts = await read_all(infra.kafka, f"{namespace}platform.user-counts", expect=2, timeout=20)
    reported = [parse(Envelope.decode(c.value)) for c in counts]
    april = [c for c in reported if c.at == datetime(2026, 4, 1, tzinfo=timezone.utc)]
    assert [(c.account_id, c.count) for c in april] == [(ACCOUNT, voice)]
    assert all(isinstance(c, UserCountReportedV1) for c in reported)


async def _empty_outbox(db, schema) -> bool:
    return await db.fetchval(f"SELECT count(*) FROM {schema}.outbox") == 0
