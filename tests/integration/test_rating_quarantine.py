"""A failure stays with its account (rating, in process on the real database): an account whose
rating fails is quarantined with its reason, the chunk and the run go on for every other
account, a run whose month cannot be rated fails without blocking later runs, and a later run
(the operator's re-rate) rates the fixed account once. The bad state is written straight into
rating's tables, behind the edges' validation, as an old row or a bypassing producer would."""

from __future__ import annotations


import pytest

from contracts.envelope import Envelope
from contracts.provisioning import AccountOpenedV1, FeatureProvisionedV1
from contracts.rating import RequestBillingRunV1
from tests.support.rating import at, each_account, env, rating_schema

pytestmark = pytest.mark.infra

GOOD = [f"good-{i}" for i in range(6)]
NOW = at("2026-04-01T06:00:01Z")


@pytest.fixture
async def rating_db(infra, namespace, db):
    """Rating's schema migrated, a pool on it, the catalogue (USD only) and six good accounts
    with one licence each."""
    settings, pool = await rating_schema(infra.database_url, namespace)
    async with pool.acquire() as conn:
        for aid in GOOD:
            await _open(conn, aid)
    yield settings, pool
    await pool.close()


async def _open(conn, aid: str, feature_at: str = "2026-03-01T00:00:00Z") -> None:
    from services.rating import service

    opened = AccountOpenedV1(account_id=aid, at=at("2026-01-01T00:00:00Z"))
    feature = FeatureProvisionedV1(account_id=aid, subscription_id=f"{aid}-s", part_number="XDM00001",
                                   quantity=1, at=at(feature_at))
    await service.record_account(conn, env(opened, aid), opened)
    await service.record_feature_provisioned(conn, env(feature, aid), feature)


async def _request(pool, run_id: str, month: str, account_ids: list[str] | None = None,
                   requested_at: str = "2026-04-01T06:00:00Z") -> None:
    from services.rating import service

    request = RequestBillingRunV1(run_id=run_id, month="2026-04", requested_at=at(requested_at),
                                  account_ids=account_ids)
    async with pool.acquire() as conn:
        await service.request_run(conn, env(request, month), request)
        # the month as a bypassing producer would send it (the contract refuses some of them)
        await conn.execute("UPDATE runs SET month = $2 WHERE run_id = $1", run_id, month)


async def _drain(pool, settings, chunk: int = 4, steps: int = 50) -> list[int]:
    from services.rating import service

    done = []
    for _ in range(steps):
        done.append(await service.rate_next_chunk(pool, settings, NOW, chunk=chunk))
        if done[-1] < 0:
            return done
    raise AssertionError(f"runs never finished: {done}")


async def _published(db, namespace: str) -> list[dict]:
    rows = await db.fetch(f"SELECT payload FROM {namespace}rating.outbox ORDER BY id")
    return [{"type": e.type, **e.payload} for e in each_account(Envelope.decode(r["payload"]) for r in rows)]


async def _poison(db, namespace: str) -> None:
    """Three accounts whose rating fails, each for its own reason, among the good ones."""
    s = f"{namespace}rating"
    await db.execute(f"""INSERT INTO {s}.accounts (account_id, time_zone, mode, currency, payment_terms_days,
                         opened_at) VALUES
        ('bad-currency', 'UTC', 'subscription', 'GBP', 30, '2026-01-01T00:00:00Z'),
        ('bad-zone', 'Mars/Olympus', 'subscription', 'USD', 30, '2026-01-01T00:00:00Z'),
        ('good-3a', 'UTC', 'subscription', 'USD', 30, '2026-01-01T00:00:00Z')""")
    await db.execute(f"""INSERT INTO {s}.subscriptions (subscription_id, account_id, part_number, quantity,
                         started_at, source_event_id) VALUES
        ('gbp-s', 'bad-currency', 'XDM00001', 1, '2026-03-01T00:00:00Z', gen_random_uuid()),
        ('mars-s', 'bad-zone', 'XDM00001', 1, '2026-03-01T00:00:00Z', gen_random_uuid()),
        ('inf-s', 'good-3a', 'XDM00001', 1, '-infinity', gen_random_uuid())""")


async def test_bad_accounts_are_quarantined_and_the_run_completes(rating_db, db, namespace):
    settings, pool = rating_db
    await _poison(db, namespace)
    await _request(pool, "r1", "2026-04")
    await _drain(pool, settings)

    s = f"{namespace}rating"
    assert await db.fetchval(f"SELECT status FROM {s}.runs WHERE run_id = 'r1'") == "rated"
    rated = [r["account_id"] for r in await db.fetch(f"SELECT account_id FROM {s}.account_runs ORDER BY 1")]
    assert rated == GOOD
    held = {r["account_id"]: r for r in await db.fetch(f"SELECT * FROM {s}.quarantined_accounts")}
    assert set(held) == {"bad-currency", "bad-zone", "good-3a"}
    assert held["bad-currency"]["reason"] == "LookupError" and "GBP" in held["bad-currency"]["error"]
    assert "Mars/Olympus" in held["bad-zone"]["error"]
    assert all(r["month"] == "2026-04" and r["resolved_at"] is None for r in held.values())
    # nothing of the quarantined accounts was written: no ledger, no charges
    assert await db.fetchval(f"SELECT count(*) FROM {s}.billed_through WHERE subscription_id IN "
                             "('gbp-s', 'mars-s', 'inf-s')") == 0
    published = await _published(db, namespace)
    assert sorted(p["account_id"] for p in published if p["type"] == "rating.charges.rated") == GOOD
    [summary] = [p for p in published if p["type"] == "rating.run.rated"]
    assert summary["accounts"] == 6 and summary["quarantined_accounts"] == 3
    assert {q["account_id"]: q["reason"] for q in summary["quarantined"]}["bad-currency"] == "LookupError"


async def test_a_run_that_cannot_be_planned_fails_and_later_runs_go_on(rating_db, db, namespace):
    settings, pool = rating_db
    await _request(pool, "r-year-zero", "0000-01", requested_at="2026-03-31T00:00:00Z")
    await _request(pool, "r-garbage", "20x6-1", requested_at="2026-03-31T00:00:01Z")
    await _request(pool, "r1", "2026-04")
    await _drain(pool, settings)

    s = f"{namespace}rating"
    status = {r["run_id"]: (r["status"], r["error"]) for r in await db.fetch(f"SELECT * FROM {s}.runs")}
    assert status["r1"] == ("rated", None)
    assert status["r-year-zero"][0] == status["r-garbage"][0] == "failed"
    assert "0000-01" in status["r-year-zero"][1]
    summaries = {p["run_id"]: p for p in await _published(db, namespace) if p["type"] == "rating.run.rated"}
    # a month the contract cannot carry came from no valid request: its failure stays in rating
    assert "r-year-zero" not in summaries and "r-garbage" not in summaries
    assert summaries["r1"]["accounts"] == 6 and summaries["r1"]["failure"] is None


async def test_rerate_after_the_fix_rates_the_account_once(rating_db, db, namespace):
    settings, pool = rating_db
    await _poison(db, namespace)
    await _request(pool, "r1", "2026-04")
    await _drain(pool, settings)
    # the operator fixes the data: a GBP catalogue appears, the zone and the date are corrected
    s = f"{namespace}rating"
    await db.execute(f"INSERT INTO {s}.products SELECT 'GBP', part_number, product FROM {s}.products "
                     "WHERE currency = 'USD'")
    await db.execute(f"UPDATE {s}.accounts SET time_zone = 'Europe/London' WHERE account_id = 'bad-zone'")
    # the re-rate: a run of the month for the quarantined accounts (twice: the second rates nothing)
    await _request(pool, "rerate-1", "2026-04", ["bad-currency", "bad-zone", "good-3a"],
                   requested_at="2026-04-02T00:00:00Z")
    await _request(pool, "rerate-2", "2026-04", ["bad-currency", "bad-zone"], requested_at="2026-04-02T00:00:01Z")
    await _drain(pool, settings)

    rated = {r["account_id"]: r["run_id"] for r in await db.fetch(f"SELECT * FROM {s}.account_runs")}
    assert rated["bad-currency"] == rated["bad-zone"] == "rerate-1"
    held = {r["account_id"]: r for r in await db.fetch(f"SELECT * FROM {s}.quarantined_accounts")}
    assert held["bad-currency"]["resolved_run"] == held["bad-zone"]["resolved_run"] == "rerate-1"
    assert held["good-3a"]["resolved_at"] is None  # still -infinity: quarantined again, by rerate-1 too
    assert await db.fetchval(f"SELECT count(*) FROM {s}.quarantined_accounts WHERE account_id = 'good-3a'") == 2
    published = await _published(db, namespace)
    charges = [p["account_id"] for p in published if p["type"] == "rating.charges.rated"]
    assert charges.count("bad-currency") == charges.count("bad-zone") == 1
    gbp = next(p for p in published if p.get("account_id") == "bad-currency")
    assert gbp["currency"] == "GBP" and gbp["total"] == "24.00"


async def test_a_clean_chunk_takes_the_fast_path(rating_db, db, namespace, caplog):
    """No account fails: no chunk falls back to rating in parts, nothing is quarantined."""
    settings, pool = rating_db
    await _request(pool, "r1", "2026-04")
    await _drain(pool, settings)
    assert "failed as a whole" not in caplog.text
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.quarantined_accounts") == 0
    [summary] = [p for p in await _published(db, namespace) if p["type"] == "rating.run.rated"]
    assert summary["quarantined"] == [] and summary["quarantined_accounts"] == 0




async def test_a_chunk_with_many_bad_accounts_is_cut_down_to_them(rating_db, db, namespace):
    """Accounts whose zone PostgreSQL does not know fail the chunk's statements as a whole: the
    chunk is halved until each is alone; all the others are rated, in one chunk of 60."""
    settings, pool = rating_db
    s = f"{namespace}rating"
    async with pool.acquire() as conn:
        for i in range(54):
            await _open(conn, f"many-{i:02d}")
    await db.execute(f"UPDATE {s}.accounts SET time_zone = 'Mars/Olympus' "
                     "WHERE account_id IN ('many-03', 'many-04', 'many-31', 'many-50', 'many-53')")
    await _request(pool, "r1", "2026-04")
    await _drain(pool, settings, chunk=60)
    held = sorted(r["account_id"] for r in await db.fetch(f"SELECT account_id FROM {s}.quarantined_accounts"))
    assert held == ["many-03", "many-04", "many-31", "many-50", "many-53"]
    assert await db.fetchval(f"SELECT count(*) FROM {s}.account_runs") == 60 - 5
    # PostgreSQL refused the zone, not zoneinfo: the chunk failed as a whole and was cut down
    errors = {r["error"] for r in await db.fetch(f"SELECT error FROM {s}.quarantined_accounts")}
    assert errors == {'time zone "Mars/Olympus" not recognized'}
