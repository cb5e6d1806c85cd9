"""The fault suite's reduced run (the whole one is `make faults`, nightly): one seed, a kill of
rating mid-run, the workload's licences and disputes, then every invariant, on the test
infrastructure (never restarted here)."""

from __future__ import annotations

import pytest

from cli.faults import schedule
from cli.faults.infra import from_environment
from cli.faults.runner import run_fault

pytestmark = pytest.mark.infra

SEED = 20261129


async def test_a_kill_mid_run_leaves_every_invariant_true(infra, api_keys, monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka)
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    faults = schedule.draw(SEED, ["kill-rating-mid-run"], infra_faults=False)
    assert [f.kind for f in faults] == ["kill"]
    result = await run_fault(SEED, 0, faults[0], from_environment(), tmp_path, api_keys.operator, api_keys.path,
                             accounts=12)
    assert result["ok"], result
    assert result["fired"] and result["invoices"] > 0
    assert result["disputes"] == 4 and result["credit_notes"] == 3 and result["refunds"] == 2 and result["licences"]
    assert set(result["invariants"].values()) == {"ok"}
