"""Rating's POST /v1/usage and its inbox-less usage handler, on the real broker and database."""

# Hostile batches, duplicates (in a batch, resubmitted, concurrent), partner trees, the accepted
# records reaching rating's table through usage.records, and redeliveries to the handler. One
# rating runtime for the module (in this process).

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from cli.namespace import drop_namespace
from contracts.provisioning import AccountOpenedV1
from contracts.usage import UsageRecordedV1
from services.rating import app as rating_app, handlers
from shared.clock import FrozenClock
from shared.settings import Settings
from tests.support.http import asgi_client, session_keys
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.rating import at, env, seed_catalog

pytestmark = pytest.mark.infra

ACCOUNTS = {"p1": None, "c1": "p1", "other": None}  # account -> parent


class Edge:
    def __init__(self, runtime, app, db: asyncpg.Connection, schema: str) -> None:
        self.runtime, self.app, self.db, self.schema = runtime, app, db, schema

    def client(self, token):
        return asgi_client(self.app, "http://rating", token)

    async def stored(self, prefix: str) -> int:
        return await self.db.fetchval(f'SELECT count(*) FROM "{self.schema}".usage_records WHERE record_id LIKE $1',
                                      prefix + "%")


@pytest.fixture(scope="module")
async def edge(infra):
    ns = f"t{uuid.uuid4().hex[:10]}_"
    settings = Settings(service="rating", database_url=infra.database_url, kafka_bootstrap_servers=infra.kafka,
                        topic_prefix=ns, schema=f"{ns}rating", relay_idle_ms=100, retry_backoff_ms=50,
                        api_keys_file=str(session_keys().path))
    runtime, app = rating_app.build(settings, FrozenClock(at("2026-03-10T12:00:00Z")))
    await runtime.start()
    db = await asyncpg.connect(infra.database_url)
    try:
        await publish_envelopes(infra.kafka, f"{ns}provisioning.events", [env(seed_catalog(), "catalog")] + [
            env(AccountOpenedV1(account_id=a, parent_account_id=parent, at=at("2026-01-01T00:00:00Z")), a)
            for a, parent in ACCOUNTS.items()])
        await eventually(lambda: db.fetchval(f'SELECT count(*) = 3 FROM "{ns}rating".accounts'), what="accounts")
        yield Edge(runtime, app, db, settings.db_schema)
    finally:
        await db.close()
        await runtime.stop()
        await drop_namespace(infra.kafka, infra.database_url, ns)


def record(rid: str, account: str = "p1", **fields) -> dict:
    return {"record_id": rid, "account_id": account, "part_number": "FAX-PAGE-OUT", "quantity": "3",
            "used_at": "2026-03-09T10:00:00Z", **fields}


async def post(edge: Edge, records, token=None):
    async with edge.client(token or session_keys().integration) as http:
        return await http.post("/v1/usage", json={"records": records})


async def test_accepted_records_reach_rating_once_and_a_resubmission_is_all_duplicates(edge):
    batch = [record(f"ok-{i}") for i in range(5)]
    first = await post(edge, batch)
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 5, "duplicates": 0, "refused": 0, "refusals": []}
    await eventually(lambda: edge.stored("ok-"), what="records stored by rating")
    await eventually(lambda: _equals(edge.stored("ok-"), 5), what="all five stored")
    again = (await post(edge, batch)).json()
    assert (again["accepted"], again["duplicates"]) == (0, 5)


async def _equals(value, expected) -> bool:
    return await value == expected


async def test_batch_size_limits_and_shape(edge):
    empty = await post(edge, [])
    assert empty.status_code == 422 and empty.json()["reason"] == "empty_batch"
    over = await post(edge, [record(f"big-{i}") for i in range(1001)])
    assert over.status_code == 413 and over.json()["reason"] == "too_many_records"
    async with edge.client(session_keys().integration) as http:
        not_a_list = await http.post("/v1/usage", json={"records": "r-1"})
        no_body = await http.post("/v1/usage", content=b"[1, 2", headers={"content-type": "application/json"})
    assert not_a_list.status_code == 422 and not_a_list.json()["reason"] == "invalid_request"
    assert no_body.status_code in (400, 422)
    assert await edge.stored("big-") == 0


async def test_each_bad_record_is_refused_with_its_reason_and_the_rest_accepted(edge):
    batch = [
        123, "text", None, [record("list-1")],
        record("bad-\u00e9\u4e2d"),  # unicode id: outside the id alphabet
        record("bad-q", quantity="abc"), record("bad-neg", quantity="-2"), record("bad-tz", used_at="2026-03-09T10:00"),
        record("bad-far", used_at="1970-01-01T00:00:00Z"), record("bad-nul\u0000"),
        {"record_id": "bad-missing"},
        record("fine-1"),
    ]
    answer = await post(edge, batch)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["refused"]) == (1, 0, 11)
    assert [r["index"] for r in body["refusals"]] == list(range(11))
    assert {r["reason"] for r in body["refusals"]} == {"invalid_record"}
    assert body["refusals"][5]["record_id"] == "bad-q" and "quantity" in body["refusals"][5]["detail"]
    assert body["refusals"][0]["record_id"] is None


async def test_duplicate_ids_inside_a_batch_count_once(edge):
    answer = (await post(edge, [record("twice-1"), record("twice-1", quantity="9"), record("twice-2")])).json()
    assert (answer["accepted"], answer["duplicates"], answer["refused"]) == (2, 1, 0)
    await eventually(lambda: _equals(edge.stored("twice-"), 2), what="two stored")
    quantity = await edge.db.fetchval(f'SELECT quantity FROM "{edge.schema}".usage_records WHERE record_id = $1',
                                      "twice-1")
    assert quantity == 3  # the first of the two


async def test_concurrent_duplicate_batches_accept_each_id_once(edge):
    batch = [record(f"race-{i}") for i in range(200)]
    answers = await asyncio.gather(*(post(edge, list(reversed(batch)) if n % 2 else batch) for n in range(4)))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert sum(a.json()["accepted"] for a in answers) == 200
    assert sum(a.json()["duplicates"] for a in answers) == 600
    await eventually(lambda: _equals(edge.stored("race-"), 200), what="each stored once")


async def test_a_partner_submits_for_its_tree_only(edge):
    keys = session_keys()
    batch = [record("tree-1", "p1"), record("tree-2", "c1"), record("tree-3", "other"), record("tree-4", "nobody")]
    answer = await post(edge, batch, keys.partner("p1"))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (2, 2)
    assert [(r["index"], r["reason"]) for r in body["refusals"]] == [(2, "unknown_account"), (3, "unknown_account")]
    # another partner's key does not reach p1's tree
    assert (await post(edge, [record("tree-5", "c1")], keys.partner("other"))).json()["refused"] == 1
    # the integration key reaches every account, even one rating does not know yet (held until it does)
    assert (await post(edge, [record("tree-6", "nobody")])).json()["accepted"] == 1


async def test_who_may_submit(edge):
    async with edge.client(None) as http:
        anonymous = await http.post("/v1/usage", json={"records": [record("who-1")]})
    assert anonymous.status_code == 401
    assert (await post(edge, [record("who-2")], session_keys().revoked())).status_code == 401
    assert (await post(edge, [record("who-3")], session_keys().operator)).status_code == 202


async def _deliver(edge: Edge, batch) -> None:
    async with edge.runtime.pool.acquire() as conn, conn.transaction():
        await handlers.on_usage(conn, [(e, e.payload) for e in batch])


def _usage(rid: str, account: str):
    from services.rating.wire import decode_usage

    return decode_usage(env(UsageRecordedV1(**record(rid, account)), account).encode())[0]


async def test_a_redelivered_batch_changes_nothing(edge):
    """What a SIGKILL between the transaction and the offset commit leads to: the same batch again."""
    batch = [_usage(f"again-{i}", "p1") for i in range(3)]
    await _deliver(edge, batch)
    await _deliver(edge, batch)
    assert await edge.stored("again-") == 3


async def test_a_redelivered_held_record_is_held_once_even_after_its_rejection(edge):
    held = _usage("ghost-1", "ghost")
    await _deliver(edge, [held])
    await _deliver(edge, [held])
    pending = f'"{edge.schema}".pending_facts'
    assert await edge.db.fetchval(f"SELECT count(*) FROM {pending} WHERE event_id = $1", held.event_id) == 1
    await edge.db.execute(f"DELETE FROM {pending} WHERE event_id = $1", held.event_id)  # as its rejection does
    await _deliver(edge, [held])  # a replay from offset 0
    assert await edge.db.fetchval(f"SELECT count(*) FROM {pending} WHERE event_id = $1", held.event_id) == 0
