"""prepaid_credit as a process on the real Kafka and PostgreSQL: a SIGKILL between its database
commit and its offset commit, and a replay of its topics from offset 0 (inbox emptied too, so
the ledger's own keys must hold), leave every balance, lot and history entry unchanged."""

from __future__ import annotations

import asyncio

import pytest

from cli.consumption import end_offsets, wait_consumed
from shared.kafka_security import KafkaSecurity
from tests.support.http import client
from tests.support.kafka import publish_envelopes, read_to_end
from tests.support.polling import eventually
from tests.support.prepaid import line, opened, run_charges, usage

pytestmark = pytest.mark.infra

SNAPSHOT = {
    "accounts": "SELECT account_id, balance, shortfall, next_seq, exhausted_armed, usage_through FROM {s}.accounts",
    "lots": "SELECT * FROM {s}.lots",
    "entries": "SELECT * FROM {s}.entries",
    "draws": "SELECT * FROM {s}.draws",
    "vouchers": "SELECT * FROM {s}.vouchers",
    "waiting": "SELECT event_id FROM {s}.waiting_charges",
}


async def _snapshot(db, schema: str) -> dict:
    return {name: sorted(tuple(r) for r in await db.fetch(sql.format(s=schema))) for name, sql in SNAPSHOT.items()}


async def _consumed(infra, namespace: str) -> None:
    topics = [f"{namespace}provisioning.events", f"{namespace}rating.charges"]
    await wait_consumed(infra.kafka, f"{namespace}prepaid_credit", await end_offsets(infra.kafka, topics),
                        timeout=90, what="prepaid_credit's topics")


async def _rewind(infra, namespace: str) -> None:
    """Delete prepaid_credit's (stopped) consumer group: it starts again from offset 0."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": infra.kafka, **KafkaSecurity.from_env().librdkafka()})
    group = f"{namespace}prepaid_credit"
    for _ in range(240):  # the SIGKILLed member stays in the group until its session times out
        try:
            admin.delete_consumer_groups([group])[group].result(10)
            return
        except Exception as exc:
            if "NON_EMPTY_GROUP" not in str(exc):
                raise
            await asyncio.sleep(0.5)
    raise AssertionError(f"group {group} still has members")


async def test_sigkill_after_commit_and_a_replay_from_offset_0_change_nothing(services, infra, db, namespace,
                                                                              tmp_path):
    schema = f"{namespace}prepaid_credit"
    marker = tmp_path / "crashed"
    env = {"BILLING_PREPAID_EXPIRY_S": "3600"}
    proc = services("prepaid_credit", BILLING_CRASH_AFTER_COMMIT="rating.charges.rated",
                    BILLING_CRASH_MARKER=str(marker), **env)
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events",
                            [opened("fax-co", threshold="300.00"), opened("two-lots")])

    async def known():
        return await db.fetchval(f"SELECT count(*) FROM {schema}.accounts") == 2
    await eventually(known, timeout=60, what="accounts known")
    async with client(proc.url) as http:
        r = await http.post("/v1/vouchers", json={"codes": ["FAXCO500"], "credits": "500.00", "lifetime_days": 60})
        assert r.status_code == 201, r.text
        await http.post("/v1/vouchers", json={"codes": ["LOTA0001", "LOTB0002"], "credits": "30.00",
                                              "lifetime_days": 20})
        for account, code, when in (("fax-co", "FAXCO500", "2026-03-03T12:00:00Z"),
                                    ("two-lots", "LOTA0001", "2026-03-10T08:00:00Z"),
                                    ("two-lots", "LOTB0002", "2026-03-02T08:00:00Z")):
            r = await http.post(f"/v1/accounts/{account}/redemptions", json={"code": code, "at": when})
            assert r.status_code == 201, r.text

    pages = line("10.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01", quantity="200")
    april = [line("93.55", "XDM00020", "2026-03-03", "2026-04-01", "n1", "5"),
             line("100.00", "XDM00020", "2026-04-01", "2026-05-01", "n1", "5")]
    first = [usage("fax-co", "2026-03-11T00:00:00Z", [pages]),
             usage("two-lots", "2026-03-11T00:00:00Z", [line("40.00", "FAX-PAGE-OUT", "2026-03-01", "2026-04-01")]),
             usage("fax-co", "2026-04-01T00:00:00Z"), usage("two-lots", "2026-04-01T00:00:00Z"),
             run_charges("fax-co", "2026-04", april, "2026-04-01T00:00:05Z")]
    await publish_envelopes(infra.kafka, f"{namespace}rating.charges", first)
    # the run's charges committed, then SIGKILL before the offset commit
    assert proc.wait_exit(90) == -9 and marker.exists()

    proc = services("prepaid_credit", **env)  # the same group: the uncommitted records come back
    may = [line("100.00", "XDM00020", "2026-05-01", "2026-06-01", "n1", "5")]
    await publish_envelopes(infra.kafka, f"{namespace}rating.charges", [
        usage("fax-co", "2026-05-01T00:00:00Z"), run_charges("fax-co", "2026-05", may, "2026-05-01T00:00:03Z"),
        usage("fax-co", "2026-05-02T00:00:00Z")])
    await _consumed(infra, namespace)
    before = await _snapshot(db, schema)
    fax = [(e[3], str(e[4]), str(e[5])) for e in sorted(e for e in before["entries"] if e[0] == "fax-co")]
    assert fax == [("redeemed", "500.00", "500.00"), ("usage", "-10.00", "490.00"),
                   ("recurring", "-93.55", "396.45"), ("recurring", "-100.00", "296.45"),
                   ("recurring", "-100.00", "196.45"), ("expired", "-196.45", "0.00")]
    # two lots: the usage (entry 3) drew all of the one expiring first (LOTB, redeemed second but
    # dated earlier) and 10.00 of the other; the rest of that one expired (entry 4) at 03-30
    draws = sorted((d[1], d[2], str(d[3])) for d in before["draws"] if d[0] == "two-lots")
    assert draws == [(3, "LOTA0001", "10.00"), (3, "LOTB0002", "30.00"), (4, "LOTA0001", "20.00")]

    async def relayed():
        return await db.fetchval(f"SELECT count(*) FROM {schema}.outbox") == 0
    await eventually(relayed, timeout=30, what="outbox relayed")
    published = len(await read_to_end(infra.kafka, f"{namespace}prepaid_credit.events"))
    assert published >= 10

    # replay both topics from offset 0, with an empty inbox: the ledger's keys alone hold
    proc.stop()
    await _rewind(infra, namespace)
    await db.execute(f"DELETE FROM {schema}.inbox")
    services("prepaid_credit", **env)
    await _consumed(infra, namespace)
    assert await _snapshot(db, schema) == before
    await eventually(relayed, timeout=30, what="outbox relayed")
    assert len(await read_to_end(infra.kafka, f"{namespace}prepaid_credit.events")) == published  # no notice told twice
