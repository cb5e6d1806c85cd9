"""auto_provisioning's metering task on the real database and broker settings: an account whose
time zone zoneinfo does not know (a row written behind the edges' validation) is skipped and
recorded in task_failures; every other account's count is reported, once."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.infra


async def test_metering_skips_a_poisoned_account_and_reports_the_others(infra, namespace, db):
    from services.auto_provisioning import service
    from shared import db as kit_db, task_failures
    from shared.settings import Settings

    settings = Settings(service="auto_provisioning", schema=f"{namespace}auto_provisioning", topic_prefix=namespace)
    await kit_db.migrate_dsn(infra.database_url, settings.db_schema, Path(service.__file__).parent / "migrations")
    s = settings.db_schema
    await db.execute(f"""INSERT INTO {s}.accounts (account_id, time_zone) VALUES
        ('a-ok', 'UTC'), ('b-mars', 'Mars/Olympus'), ('c-tokyo', 'Asia/Tokyo'), ('d-nul', 'Europe/\\x00')""")
    await db.execute(f"""INSERT INTO {s}.users (customer_id, user_id, account_id, present, voice, last_at)
        SELECT 'cust-' || a, 'u1', a, true, true, '2026-03-15Z' FROM unnest($1::text[]) AS a""",
                     ["a-ok", "b-mars", "c-tokyo", "d-nul"])
    pool = await kit_db.create_pool(infra.database_url, s, 1, 2)
    now = datetime(2026, 4, 1, 6, tzinfo=timezone.utc)
    try:
        async with pool.acquire() as conn:
            reported = await service.report_user_counts(conn, settings, now, now)
            assert sorted(r.account_id for r in reported) == ["a-ok", "c-tokyo"]
            assert await service.report_user_counts(conn, settings, now, now) == []  # once per point
            failures = {f["account_id"]: f for f in await task_failures.listing(conn)}
    finally:
        await pool.close()
    assert set(failures) == {"b-mars", "d-nul"}
    assert failures["b-mars"]["task"] == "metering" and failures["b-mars"]["failures"] == 2
    assert "Mars/Olympus" in failures["b-mars"]["error"]
    assert await db.fetchval(f"SELECT count(*) FROM {s}.outbox") == 2
