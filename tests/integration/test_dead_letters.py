"""Dead letters on the real Kafka and PostgreSQL: seen over HTTP, redriven once, discarded."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone

import pytest
from fastapi import FastAPI

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import FeatureRemovedV1
from contracts.registry import Topic, redrive_topic
from shared import auth, dead_letter_api, http
from shared.db import KIT_MIGRATIONS, migrate_dsn
from shared.kafka import ensure_topics
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.support.http import asgi_client, session_keys
from tests.support.kafka import publish, publish_envelopes, read_all
from tests.support.polling import eventually

pytestmark = pytest.mark.infra
NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
ORDERS = Topic(name="orders", description="t", partitions=2)
INIT = """
CREATE TABLE refs (sub text PRIMARY KEY);
CREATE TABLE applied (event_id uuid NOT NULL, sub text NOT NULL);  -- no key: doubles would show
"""


def _removed(sub: str, account: str = "acme") -> Envelope:
    return wrap(FeatureRemovedV1(account_id=account, subscription_id=sub, at=NOW),
                key=account, producer="test", occurred_at=NOW)


async def _needs_ref(conn, envelope, payload) -> None:
    """Applies a message only once its referenced row exists: a poison message until fixed."""
    if not await conn.fetchval("SELECT 1 FROM refs WHERE sub = $1", payload.subscription_id):
        raise LookupError(f"no ref {payload.subscription_id}")
    await conn.execute("INSERT INTO applied VALUES ($1, $2)", envelope.event_id, payload.subscription_id)


async def _always(conn, envelope, payload) -> None:
    await conn.execute("INSERT INTO applied VALUES ($1, $2)", envelope.event_id, payload.subscription_id)


class Svc:
    """A service of its own in this test's namespace: the kit's runtime and the shared router."""

    def __init__(self, infra, namespace, tmp_path, name: str, handler) -> None:
        migrations = tmp_path / name
        migrations.mkdir()
        (migrations / "0001_init.sql").write_text(INIT)
        settings = Settings(service=name, kafka_bootstrap_servers=infra.kafka, database_url=infra.database_url,
                            topic_prefix=namespace, schema=f"{namespace}{name}", retry_budget=2,
                            retry_backoff_ms=10, relay_idle_ms=50, api_keys_file=str(session_keys().path))
        self.runtime = ServiceRuntime(settings, migrations)
        self.runtime.subscribe(ORDERS, handler)
        app = FastAPI()
        app.state.runtime = self.runtime
        auth.install(app, settings)
        http.install(app)  # as every service's edge: refusals as the error body
        app.include_router(dead_letter_api.router)
        self.http = asgi_client(app, "http://svc")

    async def fetchval(self, sql: str, *args):
        async with self.runtime.pool.acquire() as conn:
            return await conn.fetchval(sql, *args)

    async def applied(self, sub: str) -> int:
        return await self.fetchval("SELECT count(*) FROM applied WHERE sub = $1", sub)

    async def dead(self, expect: int) -> list[dict]:
        async def found():
            items = (await self.http.get("/v1/dead-letters")).json()["items"]
            return items if len(items) >= expect else None
        return await eventually(found, what=f"{expect} dead letters")


@pytest.fixture
async def svc(infra, namespace, tmp_path, db):  # db: drops the namespace afterwards
    await ensure_topics(infra.kafka, [Topic(name=namespace + ORDERS.name, description="t", partitions=2)],
                        services=[namespace + "svc", namespace + "other"])
    started: list[Svc] = []

    async def start(name: str = "svc", handler=_needs_ref) -> Svc:
        service = Svc(infra, namespace, tmp_path, name, handler)
        await service.runtime.start()
        started.append(service)
        return service

    yield start
    for service in started:
        await service.http.aclose()
        await service.runtime.stop()


async def test_fixed_poison_message_is_redriven_and_applied_exactly_once(svc, infra, namespace):
    s = await svc()
    poison = _removed("s1")
    await publish_envelopes(infra.kafka, namespace + "orders", [poison])
    [dead] = await s.dead(1)
    assert dead["state"] == "dead" and dead["event_id"] == str(poison.event_id)
    assert dead["topic"] == namespace + "orders" and dead["consumer"] == "svc:orders"
    assert "no ref s1" in dead["error"] and dead["key"] == "acme"
    shown = (await s.http.get(f"/v1/dead-letters/{dead['id']}")).json()
    assert shown["payload_encoding"] == "json" and shown["payload"]["event_id"] == str(poison.event_id)

    await s.fetchval("INSERT INTO refs VALUES ('s1')")  # the operator fixes the cause
    r = await s.http.post(f"/v1/dead-letters/{dead['id']}/redrive", json={"by": "ops@example"})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "redriven" and r.json()["state_by"] == "ops@example"
    await eventually(lambda: s.applied("s1"), what="redriven message applied")

    again = await s.http.post(f"/v1/dead-letters/{dead['id']}/redrive")
    assert again.status_code == 409 and again.json()["reason"] == "already_redriven"
    done = (await s.http.get(f"/v1/dead-letters/{dead['id']}")).json()
    assert done["outcome"] == "applied" and done["retried_as"] == []
    # the original bytes went out once on the redrive topic, with the dead letter's coordinates
    [sent] = await read_all(infra.kafka, namespace + redrive_topic("svc"), expect=1, timeout=5)
    assert sent.value == poison.encode() and sent.key == b"acme"
    headers = {k: v.decode() for k, v in sent.headers}
    assert headers["redrive_of"] == str(dead["id"]) and headers["source_topic"] == namespace + "orders"
    # a delivery of the same bytes again (a relay crash between publish and delete) applies nothing
    await publish(infra.kafka, namespace + redrive_topic("svc"), [("acme", sent.value)])
    await s.fetchval("INSERT INTO refs VALUES ('s1-sentinel')")  # first: a sentinel without it is dead-lettered
    await publish_envelopes(infra.kafka, namespace + "orders", [poison, _removed("s1-sentinel")])
    await eventually(lambda: s.applied("s1-sentinel"), what="sentinel after the duplicates")
    assert await s.applied("s1") == 1
    assert await s.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", poison.event_id) == 1


async def test_message_failing_again_becomes_a_new_dead_letter(svc, infra, namespace):
    s = await svc()
    await publish_envelopes(infra.kafka, namespace + "orders", [_removed("s2")])
    [dead] = await s.dead(1)
    r = await s.http.post(f"/v1/dead-letters/{dead['id']}/redrive")  # not fixed yet
    assert r.status_code == 202
    items = await s.dead(2)
    newer = items[0]
    assert newer["redrive_of"] == dead["id"] and newer["state"] == "dead"
    assert (newer["topic"], newer["partition"], newer["offset"]) == (dead["topic"], dead["partition"], dead["offset"])
    old = (await s.http.get(f"/v1/dead-letters/{dead['id']}")).json()
    assert old["outcome"] == "failed_again" and old["retried_as"] == [newer["id"]]

    await s.fetchval("INSERT INTO refs VALUES ('s2')")
    assert (await s.http.post(f"/v1/dead-letters/{newer['id']}/redrive")).status_code == 202
    await eventually(lambda: s.applied("s2"), what="second redrive applied")
    listed = (await s.http.get("/v1/dead-letters", params={"state": "redriven"})).json()["items"]
    assert [i["id"] for i in listed] == [newer["id"], dead["id"]]
    assert (await s.http.get("/v1/dead-letters", params={"state": "dead"})).json()["items"] == []


async def test_concurrent_redrives_of_one_dead_letter_send_it_once(svc, infra, namespace):
    s = await svc()
    await publish_envelopes(infra.kafka, namespace + "orders", [_removed("s3")])
    [dead] = await s.dead(1)
    await s.fetchval("INSERT INTO refs VALUES ('s3')")
    answers = await asyncio.gather(*[s.http.post(f"/v1/dead-letters/{dead['id']}/redrive") for _ in range(12)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] + [409] * 11
    assert {a.json()["reason"] for a in answers if a.status_code == 409} == {"already_redriven"}
    await eventually(lambda: s.applied("s3"), what="applied")
    sent = await read_all(infra.kafka, namespace + redrive_topic("svc"), expect=2, timeout=3)
    assert len(sent) == 1 and await s.applied("s3") == 1


async def test_redrive_reaches_only_the_service_that_dead_lettered_it(svc, infra, namespace):
    s, other = await svc(), await svc("other", _always)
    event = _removed("s4")
    await publish_envelopes(infra.kafka, namespace + "orders", [event])
    [dead] = await s.dead(1)
    await eventually(lambda: other.applied("s4"), what="the other consumer applied it")
    await s.fetchval("INSERT INTO refs VALUES ('s4')")
    assert (await s.http.post(f"/v1/dead-letters/{dead['id']}/redrive")).status_code == 202
    await eventually(lambda: s.applied("s4"), what="redriven to svc")
    # the other service never saw the redrive; had the bytes come back on the shared topic, its
    # inbox would have skipped the known event id
    await publish_envelopes(infra.kafka, namespace + "orders", [event, _removed("s4-sentinel")])
    await eventually(lambda: other.applied("s4-sentinel"), what="the other service moved on")
    assert await other.applied("s4") == 1 and await s.applied("s4") == 1
    assert (await other.http.get("/v1/dead-letters")).json()["items"] == []
    assert await other.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event.event_id) == 1


async def test_discard_unknown_ids_and_payload_rendering(svc, infra, namespace):
    s = await svc()
    raw = [("acme", b"\x00not json \xff"), ("acme", "plain text \u00e9\u0000".encode()), ("", b"{\"a\": 1}")]
    await publish(infra.kafka, namespace + "orders", raw)
    items = await s.dead(3)
    shown = {i["id"]: (await s.http.get(f"/v1/dead-letters/{i['id']}")).json() for i in items}
    rendered = sorted((d["payload_encoding"], str(d["payload"])) for d in shown.values())
    assert rendered == sorted([("base64", base64.b64encode(raw[0][1]).decode()),
                               ("text", "plain text \u00e9\u0000"), ("json", "{'a': 1}")])
    assert all(d["event_id"] is None and d["error"].startswith("undecodable") for d in shown.values())

    first = items[-1]["id"]
    r = await s.http.post(f"/v1/dead-letters/{first}/discard", json={"by": "ops", "note": "junk from a test"})
    assert r.status_code == 200 and r.json()["state"] == "discarded" and r.json()["note"] == "junk from a test"
    for verb in ("redrive", "discard"):
        r = await s.http.post(f"/v1/dead-letters/{first}/{verb}")
        assert r.status_code == 409 and r.json()["reason"] == "already_discarded"
    for bad in ("999999999", str(2**63 - 1)):
        for method, path in (("GET", ""), ("POST", "/redrive"), ("POST", "/discard")):
            r = await s.http.request(method, f"/v1/dead-letters/{bad}{path}")
            assert r.status_code == 404 and r.json()["reason"] == "unknown_dead_letter", (bad, path)
    for bad in ("0", "-1", str(2**63), "abc", "1e3", "%00"):
        assert (await s.http.get(f"/v1/dead-letters/{bad}")).status_code == 422, bad
        assert (await s.http.post(f"/v1/dead-letters/{bad}/redrive")).status_code == 422, bad
    for body in ({"by": ""}, {"by": "x" * 101}, {"by": "a\u0000b"}, {"by": 5}, {"note": "\u0000"}):
        assert (await s.http.post(f"/v1/dead-letters/{items[0]['id']}/redrive", json=body)).status_code == 422
    for params in ({"state": "alive"}, {"limit": 0}, {"limit": 501}, {"before": 0}, {"topic": "a/b"},
                   {"topic": "x" * 250}, {"before": str(2**63)}):
        assert (await s.http.get("/v1/dead-letters", params=params)).status_code == 422, params
    # nothing above changed the other two
    assert [i["state"] for i in (await s.http.get("/v1/dead-letters")).json()["items"]] == ["dead", "dead", "discarded"]


async def test_list_pages_newest_first_and_filters_by_topic(svc, infra, namespace):
    s = await svc()
    await publish(infra.kafka, namespace + "orders", [("k", f"bad {i}".encode()) for i in range(7)])
    await s.dead(7)
    pages, before = [], None
    while True:
        page = (await s.http.get("/v1/dead-letters", params={"limit": 3, **({"before": before} if before else {})})).json()
        pages.append([i["id"] for i in page["items"]])
        before = page["next_before"]
        if before is None:
            break
    ids = [i for p in pages for i in p]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == 7
    assert [len(p) for p in pages] == [3, 3, 1]
    for topic in ("orders", namespace + "orders"):
        got = (await s.http.get("/v1/dead-letters", params={"topic": topic})).json()["items"]
        assert len(got) == 7
    assert (await s.http.get("/v1/dead-letters", params={"topic": "elsewhere"})).json()["items"] == []


async def test_tombstones_and_stray_redrive_records_are_kept_and_refused_clearly(svc, infra, namespace):
    s = await svc()
    redrive = namespace + redrive_topic("svc")
    await publish(infra.kafka, namespace + "orders", [("acme", None)])  # a tombstone
    await publish(infra.kafka, redrive, [
        ("acme", _removed("s5").encode()),  # no headers
        ("acme", _removed("s6").encode(), [("consumer", b"svc:nowhere"), ("source_topic", b"x"),
                                           ("source_partition", b"0"), ("source_offset", b"1"),
                                           ("redrive_of", b"1")])])
    items = {i["payload_bytes"] is None: i for i in await s.dead(3)}
    tombstone = items[True]
    r = await s.http.post(f"/v1/dead-letters/{tombstone['id']}/redrive")
    assert r.status_code == 409 and r.json()["reason"] == "empty_payload"
    assert (await s.http.get(f"/v1/dead-letters/{tombstone['id']}")).json()["payload_encoding"] == "none"
    strays = (await s.http.get("/v1/dead-letters", params={"topic": redrive_topic("svc")})).json()["items"]
    unknown = (await s.http.get("/v1/dead-letters", params={"topic": "x"})).json()["items"]
    assert [i["consumer"] for i in strays] == ["svc:svc.redrive"] and "bad redrive headers" in strays[0]["error"]
    assert [i["consumer"] for i in unknown] == ["svc:nowhere"] and "no subscriber" in unknown[0]["error"]
    for stray in strays + unknown:  # nothing this service consumes: refused, and nothing applied
        r = await s.http.post(f"/v1/dead-letters/{stray['id']}/redrive")
        assert r.status_code == 409 and r.json()["reason"] == "no_consumer"
        assert (await s.http.post(f"/v1/dead-letters/{stray['id']}/discard")).json()["state"] == "discarded"
    assert await s.fetchval("SELECT count(*) FROM applied") == 0


async def test_hostile_keys_and_redrive_headers_never_stall_a_partition(svc, infra, namespace):
    s = await svc()
    redrive = namespace + redrive_topic("svc")
    bad_headers = [
        [("consumer", b"svc:orders"), ("source_topic", b"x"), ("source_partition", b"0"),
         ("source_offset", b"1"), ("redrive_of", str(2**63).encode())],
        [("consumer", b"svc:\x00orders"), ("source_topic", b"x"), ("source_partition", b"0"),
         ("source_offset", b"1"), ("redrive_of", b"1")],
        [("consumer", None), ("source_topic", b"\xff\xfe"), ("redrive_of", b"1e3")],
    ]
    await s.fetchval("INSERT INTO refs VALUES ('after')")
    await publish(infra.kafka, namespace + "orders", [
        (b"a\x00b\xff", b"junk \x00"),
        # header values Kafka allows and FastStream's parser could not read: the message is applied
        (b"acme", _removed("after").encode(), [("null", None), ("latin1", b"\xe9t\xe9")])])
    await publish(infra.kafka, redrive, [(b"\x00", _removed("s7").encode(), headers) for headers in bad_headers])
    await eventually(lambda: s.applied("after"), what="the partition moved on")
    items = await s.dead(4)
    assert sorted(i["key"] for i in items) == ["\\x00"] * 3 + ["a\\x00b\ufffd"]
    assert sum("bad redrive headers" in i["error"] for i in items) == 3
    assert await s.applied("s7") == 0


async def test_migration_keeps_dead_letters_recorded_before_it(infra, namespace, db):
    schema = f"{namespace}old"
    await db.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
    await db.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz "
                     "NOT NULL DEFAULT now())")
    for path in sorted(KIT_MIGRATIONS.glob("*.sql"))[:3]:  # the kit as it was before dead-letter states
        await db.execute(path.read_text())
        await db.execute("INSERT INTO schema_migrations (version) VALUES ($1)", f"kit:{path.stem}")
    event = _removed("old")
    await db.execute("""INSERT INTO dead_letters (consumer, topic, partition, "offset", key, payload, error)
                        VALUES ('svc:orders', 't', 0, 5, 'acme', $1, 'failed 3 times')""", event.encode())
    assert await migrate_dsn(infra.database_url, schema, None) == ["kit:0004_dead_letter_states",
                                                                   "kit:0005_task_failures"]
    row = await db.fetchrow(f"SELECT state, event_id, redrive_of FROM {schema}.dead_letters")
    assert dict(row) == {"state": "dead", "event_id": None, "redrive_of": None}
    # the old delivery key still holds, and a redrive of it is a new row
    insert = f"""INSERT INTO {schema}.dead_letters (consumer, topic, partition, "offset", error, redrive_of)
                 VALUES ('svc:orders', 't', 0, 5, 'again', $1) ON CONFLICT DO NOTHING"""
    assert await db.execute(insert, None) == "INSERT 0 0"
    assert await db.execute(insert, 1) == "INSERT 0 1"
