"""`billing bench billing-run` end to end at a small size: its own rating process and two
invoicing replicas, a real run, the JSON figures (with each process's CPU and peak memory) as its
last line, and its namespace dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg
import pytest

pytestmark = pytest.mark.infra


async def test_bench_billing_run_issues_one_invoice_per_account(infra):
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "DATABASE_URL": infra.database_url}
    done = subprocess.run([sys.executable, "-m", "cli.main", "bench", "billing-run", "--accounts", "300",
                           "--timeout", "240"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["accounts"] == 300 and result["invoices"] == 300
    assert result["replicas"] == {"rating": 1, "invoicing": 2}
    assert result["invoices_per_second"] > 0
    # each service process's CPU per invoice during the run and its peak memory (VmHWM, MiB)
    processes = {"rating-1", "invoicing-1", "invoicing-2"}
    assert set(result["cpu_us_per_invoice"]) == set(result["peak_rss_mib"]) == processes
    assert all(mib > 0 for mib in result["peak_rss_mib"].values())
    # every process together, and how fast the host ran the reference loop just before
    assert result["cpu_us_per_invoice_all"] >= sum(result["cpu_us_per_invoice"].values())
    assert result["host_reference_ms"] > 0
    conn = await asyncpg.connect(infra.database_url)
    try:  # the bench's schemas are gone (other benches may run beside it: only its own namespace counts)
        assert await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1",
                                   result["namespace"] + "%") == 0
    finally:
        await conn.close()
