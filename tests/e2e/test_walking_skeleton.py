"""Walking skeleton: a feature provisioned over HTTP crosses to the rating service over the real
broker; both services run as separate processes on the real Kafka and PostgreSQL."""

from __future__ import annotations

import pytest

from contracts.registry import dead_letter_topic
from tests.support.http import client
from tests.support.kafka import publish, read_all
from tests.support.polling import eventually
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.infra


async def _open_acme(port: int) -> None:
    """Provisioning refuses unknown accounts and products: open `acme` and load XDM00001 first."""
    async with client(f"http://127.0.0.1:{port}") as http:
        r = await http.put("/v1/catalog", json={"products": [
            {"part_number": "XDM00001", "kind": "recurring", "unit_price": "12.00", "minimum_days": 30}]})
        assert r.status_code == 200, r.text
        assert (await http.post("/v1/accounts", json={"account_id": "acme"})).status_code == 201


async def _rating_rows(db, namespace, subscription_id):
    return await db.fetch(f"SELECT * FROM {namespace}rating.subscriptions WHERE subscription_id = $1",
                          subscription_id)


async def test_event_arrives_and_is_stored_once(services, db, namespace):
    port = free_port()
    services("provisioning", port)
    await _open_acme(port)
    services("rating")
    body = {"account_id": "acme", "subscription_id": "s1", "part_number": "XDM00001", "quantity": 2}
    async with client(f"http://127.0.0.1:{port}") as http:
        created = await http.post("/v1/features", json=body)
        assert created.status_code == 201, created.text
        again = await http.post("/v1/features", json=body)
        assert again.status_code == 409 and again.json()["reason"] == "duplicate_subscription"

    rows = await eventually(lambda: _rating_rows(db, namespace, "s1"), what="rating stored s1")
    assert len(rows) == 1 and rows[0]["quantity"] == 2
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.inbox "
                             "WHERE event_type = 'provisioning.feature.provisioned'") == 1
    # the relay deletes its outbox row once Kafka has acknowledged the record, which can be a
    # moment after rating has already read and stored it
    await eventually(lambda: _outbox_empty(db, namespace), what="provisioning's outbox drained")


async def _outbox_empty(db, namespace) -> bool:
    return await db.fetchval(f"SELECT count(*) FROM {namespace}provisioning.outbox") == 0


async def test_consumer_killed_after_commit_applies_exactly_once(services, db, namespace, tmp_path, infra):
    port = free_port()
    services("provisioning", port)
    await _open_acme(port)
    marker = tmp_path / "crashed"
    rating = services("rating", BILLING_CRASH_AFTER_COMMIT="provisioning.feature.provisioned",
                      BILLING_CRASH_MARKER=str(marker))
    async with client(f"http://127.0.0.1:{port}") as http:
        r = await http.post("/v1/features", json={"account_id": "acme", "subscription_id": "k1",
                                                  "part_number": "XDM00001"})
        assert r.status_code == 201
    # the handler committed, then the process died by SIGKILL before committing the offset
    assert rating.wait_exit(60) == -9
    assert marker.exists()
    assert len(await _rating_rows(db, namespace, "k1")) == 1

    restarted = services("rating")  # same consumer group: the uncommitted record comes back
    await eventually(lambda: _log_has(restarted, "skipped duplicate event"), what="redelivery seen")
    assert len(await _rating_rows(db, namespace, "k1")) == 1
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.inbox "
                             "WHERE event_type = 'provisioning.feature.provisioned'") == 1
    # and the service goes on with new events after the redelivery
    async with client(f"http://127.0.0.1:{port}") as http:
        await http.post("/v1/features", json={"account_id": "acme", "subscription_id": "k2",
                                              "part_number": "XDM00001"})
    await eventually(lambda: _rating_rows(db, namespace, "k2"), what="k2 after restart")


async def _log_has(proc: ServiceProcess, text: str) -> bool:
    return text in proc.log()


async def test_undecodable_message_goes_to_dead_letter_and_next_is_processed(services, db, namespace, infra):
    port = free_port()
    services("provisioning", port)
    await _open_acme(port)
    services("rating")
    topic = f"{namespace}provisioning.events"
    await publish(infra.kafka, topic, [("acme", b"\x00not json at all")])
    async with client(f"http://127.0.0.1:{port}") as http:
        r = await http.post("/v1/features", json={"account_id": "acme", "subscription_id": "d1",
                                                  "part_number": "XDM00001"})
        assert r.status_code == 201
    await eventually(lambda: _rating_rows(db, namespace, "d1"), what="next message processed")
    dead = await read_all(infra.kafka, namespace + dead_letter_topic("rating"), expect=1)
    assert [d.value for d in dead] == [b"\x00not json at all"]
    headers = dict(dead[0].headers)
    assert headers["source_topic"] == topic.encode() and b"undecodable" in headers["error"]
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.dead_letters") == 1
