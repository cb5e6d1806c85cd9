"""A chunk's SQL (rating, in process on the real database): facts read by id range equal those read
by ids, and the ledger's plain inserts and forward moves bill every piece once over two runs."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from cli.namespace import drop_namespace
from contracts.rating import RequestBillingRunV1
from tests.support.rating import at, env, rating_schema

pytestmark = pytest.mark.infra

ACCOUNTS = [f"acct-{i:03d}" for i in range(150)]  # over store.RANGE_MIN_ACCOUNTS: one chunk read by range


@pytest.fixture(scope="module")
async def rating_db(infra):
    """Rating's schema with the catalogue and 150 accounts: a licence each, usage for every third
    one (late usage too for every sixth), a user count for every fifth, stored straight into
    rating's tables."""
    namespace = f"t{uuid.uuid4().hex[:10]}_"
    settings, pool = await rating_schema(infra.database_url, namespace)
    async with pool.acquire() as conn:
        await conn.executemany("""INSERT INTO accounts (account_id, time_zone, mode, currency, payment_terms_days,
                                  opened_at) VALUES ($1, 'UTC', 'subscription', 'USD', 30, '2026-01-01T00:00:00Z')""",
                               [(a,) for a in ACCOUNTS])
        await conn.executemany("""INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity,
                                  started_at, source_event_id) VALUES ($1 || '-s', $1, 'XDM00001', 1,
                                  '2026-03-15T00:00:00Z', gen_random_uuid())""", [(a,) for a in ACCOUNTS])
        await conn.executemany("""INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at,
                                  received_at) VALUES ($1 || '-u', $1, 'FAX-PAGE-OUT', 10, '2026-03-20T00:00:00Z',
                                  '2026-03-20T00:00:00Z')""", [(a,) for a in ACCOUNTS[::3]])
        # late usage of March for every sixth account: the May run adds to March's units
        await conn.executemany("""INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at,
                                  received_at) VALUES ($1 || '-late', $1, 'FAX-PAGE-OUT', 5, '2026-03-25T00:00:00Z',
                                  '2026-04-10T00:00:00Z')""", [(a,) for a in ACCOUNTS[::6]])
        await conn.executemany("""INSERT INTO user_counts (account_id, at, count, event_id)
                                  VALUES ($1, '2026-03-01T00:00:00Z', 7, gen_random_uuid())""",
                               [(a,) for a in ACCOUNTS[::5]])
    yield settings, pool
    await pool.close()
    await drop_namespace(infra.kafka, infra.database_url, namespace)


def _rows(facts, ids) -> dict[str, list]:
    return {table: sorted(repr(tuple(r.items())) for r in rows if table == "catalog" or r["account_id"] in ids)
            for table, rows in facts.items()}


async def test_facts_read_by_range_equal_those_read_by_ids(rating_db):
    from services.rating import store

    _, pool = rating_db
    ids = [a for i, a in enumerate(ACCOUNTS) if 10 <= i < 140 and i % 7]  # the range holds the others too
    async with pool.acquire() as conn:
        by_ids = await store.load_facts(conn, ids)
        by_range = await store.load_facts(conn, ids, whole_range=True)
    assert _rows(by_range, set(ids)) == _rows(by_ids, set(ids))
    assert len(by_range["subscriptions"]) == 130 and len(by_ids["subscriptions"]) == len(ids) == 112
    assert len(by_ids["usage"]) == 37 + 19 and len(by_ids["user_counts"]) == 23


async def test_two_runs_bill_every_piece_once_through_inserts_then_moves(rating_db):
    from services.rating import service

    settings, pool = rating_db
    for month, requested in (("2026-04", "2026-04-01T06:00:00Z"), ("2026-05", "2026-05-01T06:00:00Z")):
        request = RequestBillingRunV1(run_id=f"r-{month}", month=month, requested_at=at(requested))
        async with pool.acquire() as conn:
            await service.request_run(conn, env(request, month), request)
        for _ in range(20):
            if await service.rate_next_chunk(pool, settings, at(requested), chunk=1000) < 0:
                break
    async with pool.acquire() as conn:
        through = {r["subscription_id"]: r["through"] for r in await conn.fetch("SELECT * FROM billed_through")}
        runs = await conn.fetch("SELECT month, count(*) AS n, sum(lines) AS lines, sum(total) AS total "
                                "FROM account_runs GROUP BY month ORDER BY month")
        unrated = await conn.fetchval("SELECT count(*) FROM usage_records WHERE rated_month IS NULL")
        units = {r["account_id"]: r["units"] for r in await conn.fetch("SELECT * FROM usage_units")}
    assert through == {f"{a}-s": date(2026, 6, 1) for a in ACCOUNTS}
    # April: 15-31 March in arrears (17/31 of 12.00 = 6.58) and April in advance, usage 10 x 0.05 for
    # every third account; May: May in advance, and March's late usage (5 x 0.05) for every sixth
    assert [(r["month"], r["n"], r["lines"], r["total"]) for r in runs] == [
        ("2026-04", 150, 350, Decimal("2787.00") + 50 * Decimal("0.50")),
        ("2026-05", 150, 175, Decimal("1800.00") + 25 * Decimal("0.25"))]
    assert unrated == 0
    assert units == {a: Decimal(15) if i % 6 == 0 else Decimal(10) for i, a in enumerate(ACCOUNTS) if i % 3 == 0}


async def test_a_units_row_added_meanwhile_fails_the_insert_and_the_chunk_rated_anew_adds_to_it(
        rating_db, monkeypatch):
    """Prepaid's midnights may add a units row between a chunk's loading and its writing (a mode
    switch racing the run): the plain insert fails, and the chunk rated in parts adds to the row."""
    from services.rating import service, store

    settings, pool = rating_db
    async with pool.acquire() as conn:
        await conn.executemany("""INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at,
                                  received_at) VALUES ($1 || '-may', $1, 'FAX-PAGE-OUT', 10, '2026-05-10T00:00:00Z',
                                  '2026-05-10T00:00:00Z')""", [(a,) for a in ACCOUNTS[:3]])
    load_facts, raced = store.load_facts, []

    async def load_then_race(conn, ids, whole_range=False):
        facts = await load_facts(conn, ids, whole_range)
        if not raced:  # another transaction, committed before this chunk writes its ledger
            raced.append(True)
            async with pool.acquire() as other:
                await other.execute("INSERT INTO usage_units VALUES ($1, 'FAX-PAGE-OUT', '2026-05-01', 7)", ACCOUNTS[0])
        return facts
    monkeypatch.setattr(store, "load_facts", load_then_race)
    requested = at("2026-06-01T06:00:00Z")
    request = RequestBillingRunV1(run_id="r-2026-06", month="2026-06", requested_at=requested)
    async with pool.acquire() as conn:
        await service.request_run(conn, env(request, "2026-06"), request)
    for _ in range(20):
        if await service.rate_next_chunk(pool, settings, requested, chunk=1000) < 0:
            break
    async with pool.acquire() as conn:
        may = {r["account_id"]: r["units"] for r in await conn.fetch(
            "SELECT account_id, units FROM usage_units WHERE usage_month = '2026-05-01'")}
        rated = await conn.fetchval("SELECT count(*) FROM account_runs WHERE month = '2026-06'")
    assert raced and rated == 150
    assert may == {ACCOUNTS[0]: Decimal(17), ACCOUNTS[1]: Decimal(10), ACCOUNTS[2]: Decimal(10)}
