"""The kit on the real PostgreSQL and Kafka: migrations, inbox, outbox relay, subscribers."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from contracts import wrap
from contracts.envelope import Envelope
from contracts.provisioning import FeatureRemovedV1
from contracts.registry import Topic, dead_letter_topic
from shared import db, inbox, outbox
from shared.kafka import PoisonMessage, Subscription, ensure_topics, make_broker
from shared.outbox import OutboxRelay, make_producer
from shared.settings import Settings
from tests.support.kafka import publish, publish_envelopes, read_all
from tests.support.polling import eventually

pytestmark = pytest.mark.infra
NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)


def _removed(account: str, sub: str) -> Envelope:
    return wrap(FeatureRemovedV1(account_id=account, subscription_id=sub, at=NOW),
                key=account, producer="test", occurred_at=NOW)


@pytest.fixture
async def kit(infra, namespace, tmp_path):
    """A service schema migrated with the kit tables and one table of its own."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0001_init.sql").write_text("CREATE TABLE applied (event_id uuid PRIMARY KEY, sub text);")
    schema = f"{namespace}svc"
    applied = await db.migrate_dsn(infra.database_url, schema, migrations)
    pool = await db.create_pool(infra.database_url, schema, 1, 5)
    yield schema, pool, migrations, applied
    await pool.close()


async def test_migrations_apply_once_and_are_recorded(infra, db, kit):
    schema, pool, migrations, applied = kit
    assert applied == ["kit:0001_kit", "kit:0002_outbox_lz4", "kit:0003_outbox_no_event_index",
                       "kit:0004_dead_letter_states", "kit:0005_task_failures", "0001_init"]
    assert await dbm(infra, schema, migrations) == []
    (migrations / "0002_more.sql").write_text("ALTER TABLE applied ADD COLUMN note text;")
    assert await dbm(infra, schema, migrations) == ["0002_more"]
    versions = [r["version"] for r in await db.fetch(f"SELECT version FROM {schema}.schema_migrations ORDER BY 1")]
    assert versions == ["0001_init", "0002_more", "kit:0001_kit", "kit:0002_outbox_lz4",
                        "kit:0003_outbox_no_event_index", "kit:0004_dead_letter_states",
                        "kit:0005_task_failures"]


async def dbm(infra, schema: str, migrations: Path) -> list[str]:
    return await db.migrate_dsn(infra.database_url, schema, migrations)


async def test_failed_migration_leaves_no_trace(infra, db, kit):
    schema, _, migrations, _ = kit
    (migrations / "0002_bad.sql").write_text("CREATE TABLE half (x int); SELECT no_such_function();")
    with pytest.raises(Exception):
        await dbm(infra, schema, migrations)
    assert not await db.fetchval("SELECT to_regclass($1)", f"{schema}.half")
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations WHERE version = '0002_bad'") == 0


async def test_inbox_claims_each_event_once(kit):
    _, pool, _, _ = kit
    a, b = _removed("acme", "s1"), _removed("acme", "s2")
    async with pool.acquire() as conn:
        assert await inbox.claim(conn, "c", a) is True
        assert await inbox.claim(conn, "c", a) is False
        assert await inbox.claim(conn, "other", a) is True  # per consumer
        assert await inbox.claim_many(conn, "c", [a, b, b]) == {b.event_id}
        c, d = _removed("acme", "s3"), _removed("acme", "s4")
        async with conn.transaction():  # a subscriber's: a redelivery in the batch leaves it usable
            assert await inbox.claim_many(conn, "c", [c]) == {c.event_id}
            assert await inbox.claim_many(conn, "c", [d, c]) == {d.event_id}
            assert await inbox.claim_many(conn, "c", [d]) == set()
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'c'") == 4


async def test_outbox_relay_publishes_in_order_and_forgets(infra, namespace, kit):
    schema, pool, _, _ = kit
    topic = f"{namespace}relay.test"
    await ensure_topics(infra.kafka, [Topic(name=topic, description="t", partitions=2)])
    envelopes = [_removed("acme", f"s{i}") for i in range(50)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, topic, envelopes[:25])
        await outbox.add(conn, topic, envelopes[25:])
    producer = make_producer(infra.kafka, "test-relay")
    await producer.start()
    relay = OutboxRelay(pool, producer, schema, batch=10, idle_ms=50)
    await relay.start()
    try:
        records = await read_all(infra.kafka, topic, expect=50)
        await eventually(lambda: _outbox_empty(pool), what="outbox drained")
    finally:
        await relay.stop()
        await producer.stop()
    assert [Envelope.decode(r.value).event_id for r in records] == [e.event_id for e in envelopes]
    assert {r.key for r in records} == {b"acme"}
    assert dict(records[0].headers)["event_type"] == b"provisioning.feature.removed"


async def test_outbox_claims_are_bounded_by_bytes_and_the_relay_keeps_going(infra, namespace, kit):
    """Batched events are large: a claim stops at `max_bytes` (the first row always comes), and
    the relay goes on at once with what is behind instead of waiting for a notice."""
    schema, pool, _, _ = kit
    topic = f"{namespace}relay.bytes"
    await ensure_topics(infra.kafka, [Topic(name=topic, description="t", partitions=1)])
    envelopes = [_removed("acme", f"b{i}") for i in range(12)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add(conn, topic, envelopes)
        size = await conn.fetchval("SELECT min(octet_length(payload)) FROM outbox WHERE topic = $1", topic)
        claimed = await conn.fetch(outbox.CLAIM_BATCH, 1000, 3 * size)
        assert len(claimed) == 3 and [r["id"] for r in claimed] == sorted(r["id"] for r in claimed)
        assert len(await conn.fetch(outbox.CLAIM_BATCH, 1000, 1)) == 1  # never nothing
    producer = make_producer(infra.kafka, "test-relay-bytes")
    await producer.start()
    # a long idle wait: were the relay to wait after each short batch, 12 rows would take minutes
    relay = OutboxRelay(pool, producer, schema, batch=1000, idle_ms=60_000, max_bytes=2 * size)
    await relay.start()
    try:
        records = await read_all(infra.kafka, topic, expect=12, timeout=20)
    finally:
        await relay.stop()
        await producer.stop()
    assert [Envelope.decode(r.value).event_id for r in records] == [e.event_id for e in envelopes]


async def _outbox_empty(pool) -> bool:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def _run_subscription(infra, namespace, pool, schema, handler, envelopes, raw=()):
    settings = Settings(service=f"{namespace}svc", kafka_bootstrap_servers=infra.kafka,
                        database_url=infra.database_url, schema=schema, retry_budget=3, retry_backoff_ms=10)
    topic = Topic(name=f"{namespace}in", description="t", partitions=1)
    await ensure_topics(infra.kafka, [topic], services=[settings.service])
    broker = make_broker(settings)
    Subscription(settings, broker, pool, topic, handler=handler).register()
    await publish(infra.kafka, topic.name, list(raw))
    await publish_envelopes(infra.kafka, topic.name, envelopes)
    await broker.start()
    return broker, settings


async def test_retry_budget_then_dead_letter_and_partition_moves_on(infra, namespace, kit):
    schema, pool, _, _ = kit
    attempts: dict[str, int] = {}

    async def handler(conn, envelope, payload):
        attempts[payload.subscription_id] = attempts.get(payload.subscription_id, 0) + 1
        if payload.subscription_id == "flaky" and attempts["flaky"] < 2:
            raise ConnectionError("transient")
        if payload.subscription_id == "broken":
            raise RuntimeError("always fails")
        if payload.subscription_id == "poison":
            raise PoisonMessage("can never work")
        await conn.execute("INSERT INTO applied VALUES ($1, $2)", envelope.event_id, payload.subscription_id)

    envs = [_removed("acme", s) for s in ("flaky", "broken", "poison", "fine")]
    broker, settings = await _run_subscription(infra, namespace, pool, schema, handler, envs,
                                               raw=[("acme", b"{not json")])
    try:
        async def applied():
            async with pool.acquire() as conn:
                return [r["sub"] for r in await conn.fetch("SELECT sub FROM applied ORDER BY sub")]
        assert await eventually(lambda: _eq(applied, ["fine", "flaky"]), what="flaky and fine applied")
        dead = await read_all(infra.kafka, dead_letter_topic(settings.service), expect=3)
    finally:
        await broker.stop()
    assert attempts["broken"] == 3 and attempts["poison"] == 1 and attempts["flaky"] == 2
    errors = sorted(dict(d.headers)["error"].decode().split(":")[0] for d in dead)
    assert errors == ["failed 3 times", "poison", "undecodable"]
    async with pool.acquire() as conn:  # the failed attempts changed nothing
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 3
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 2


async def test_a_database_outage_longer_than_the_budget_is_waited_out_not_dead_lettered(infra, namespace, kit):
    schema, pool, _, _ = kit
    attempts = {"n": 0}

    async def handler(conn, envelope, payload):
        attempts["n"] += 1
        if attempts["n"] <= 4:  # more failures than the budget of 3: the database still away
            raise ConnectionRefusedError("the database system is starting up")
        await conn.execute("INSERT INTO applied VALUES ($1, $2)", envelope.event_id, payload.subscription_id)

    broker, settings = await _run_subscription(infra, namespace, pool, schema, handler, [_removed("acme", "late")])
    try:
        async def applied():
            async with pool.acquire() as conn:
                return [r["sub"] for r in await conn.fetch("SELECT sub FROM applied")]
        assert await eventually(lambda: _eq(applied, ["late"]), what="applied once the outage is over")
    finally:
        await broker.stop()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0


async def _eq(fetch, expected):
    got = await fetch()
    return got if got == expected else None


async def test_duplicate_deliveries_apply_once(infra, namespace, kit):
    schema, pool, _, _ = kit

    async def handler(conn, envelope, payload):
        await conn.execute("INSERT INTO applied VALUES ($1, $2)", envelope.event_id, payload.subscription_id)

    env, sentinel = _removed("acme", "once"), _removed("acme", "after")
    broker, _ = await _run_subscription(infra, namespace, pool, schema, handler, [env, env, env, sentinel])
    try:
        async def sentinel_applied():
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM applied WHERE sub = 'after'") == 1
        # same partition, in order: once the sentinel is applied the duplicates were seen
        await eventually(sentinel_applied, what="sentinel applied")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM applied WHERE sub = 'once'") == 1
    finally:
        await broker.stop()


async def test_a_wait_that_times_out_says_which_partition_lags_and_who_holds_it(infra, db, namespace):
    """`wait_consumed`'s timeout names each lagging partition, its committed offset against the
    one wanted and the member holding it (or none), and the group's state: CI keeps no logs."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from cli.consumption import wait_consumed
    from shared.kafka_security import client_options

    topic = Topic(name="lag.report", description="a test's", partitions=2, retention_ms=3_600_000)
    await ensure_topics(infra.kafka, [topic], namespace)
    name = namespace + topic.name
    await publish(infra.kafka, name, [("k", b"x")])
    held, unheld = TopicPartition(name, 0), TopicPartition(name, 1)
    with pytest.raises(TimeoutError) as nobody:
        await wait_consumed(infra.kafka, namespace + "g", {held: 3}, 0.2, "the test's records")
    assert f"{name}[0] at none of 3, held by no member" in str(nobody.value)
    assert "the test's records within 0.2s" in str(nobody.value)

    consumer = AIOKafkaConsumer(name, bootstrap_servers=infra.kafka, group_id=namespace + "g",
                                client_id="reporter", enable_auto_commit=False, **client_options())
    await consumer.start()
    try:
        async def assigned() -> bool:
            return len(consumer.assignment()) == 2

        await eventually(assigned, 30, what="the partitions assigned")
        await consumer.commit({held: 1})
        with pytest.raises(TimeoutError) as stuck:
            await wait_consumed(infra.kafka, namespace + "g", {held: 3, unheld: 2}, 0.2)
    finally:
        await consumer.stop()
    message = str(stuck.value)
    assert f"{name}[0] at 1 of 3, held by reporter-" in message
    assert f"{name}[1] at none of 2, held by reporter-" in message
    assert "group Stable with 1 members, 2 partitions assigned" in message


async def test_ensure_topics_returns_once_every_partition_is_served(infra, db, namespace, caplog):
    """Services start side by side and subscribe right after `ensure_topics`: it returns only once
    every partition has a leader answering offset requests, so no subscriber meets a topic that is
    "not found" or "not leader" (and no group is assigned without it). A topic that never comes is
    given up on after the timeout, with a warning, not an error: the clients retry on their own."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.kafka import until_led
    from shared.kafka_security import client_options

    topics = [Topic(name=f"ready.{i}", description="a test's", partitions=4) for i in range(3)]
    await ensure_topics(infra.kafka, topics, namespace)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **client_options())
    await admin.start()
    try:
        names = [namespace + t.name for t in topics]
        for described in await admin.describe_topics(names):
            assert [p["leader"] >= 0 for p in described["partitions"]] == [True] * 4
        assert await until_led(infra.kafka, admin, names) == []
        missing = namespace + "never.made"
        assert await until_led(infra.kafka, admin, [missing], timeout=0.3) == [missing]
        assert f"topics without a leader after 0 s: {missing}" in caplog.text
    finally:
        await admin.close()
    # a consumer assigned at once has every partition's offsets, first time
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka, group_id=None, request_timeout_ms=5000,
                                **client_options())
    await consumer.start()
    try:
        partitions = [TopicPartition(name, p) for name in names for p in range(4)]
        assert set((await consumer.end_offsets(partitions)).values()) == {0}
    finally:
        await consumer.stop()
