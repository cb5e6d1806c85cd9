"""The background tasks' typed settings: defaults, the environment's BILLING_* variables, bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError, Tuning

DEFAULTS = {"scheduler_ms": 10_000, "overdue_ms": 60_000, "pending_expiry_ms": 60_000,
            "pending_charges_ttl_hours": 24, "metering_interval_s": 60, "pending_facts_s": 86_400,
            "pending_sweep_s": 5, "run_chunk": 2000, "run_workers": 2, "dispute_overdue_ms": 60_000,
            "prepaid_midnights_s": 5, "prepaid_expiry_s": 5,
            "clock": "system", "clock_start": datetime(2000, 1, 1, tzinfo=timezone.utc)}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in Tuning.model_fields:
        monkeypatch.delenv(f"BILLING_{name.upper()}", raising=False)


def test_defaults_are_documented_and_match_readme():
    assert Tuning.from_env().model_dump() == DEFAULTS
    assert Settings(service="x").tuning.model_dump() == DEFAULTS
    assert all(field.description for field in Tuning.model_fields.values())


def test_the_environment_sets_each_knob_under_its_billing_name(monkeypatch):
    monkeypatch.setenv("BILLING_RUN_WORKERS", "4")
    monkeypatch.setenv("BILLING_PENDING_SWEEP_S", "0.5")
    monkeypatch.setenv("BILLING_SCHEDULER_MS", "3600000")
    monkeypatch.setenv("BILLING_OVERDUE_MS", "")  # empty: the default
    tuning = Settings.from_env("rating").tuning
    assert (tuning.run_workers, tuning.pending_sweep_s, tuning.scheduler_ms, tuning.overdue_ms) == (
        4, 0.5, 3_600_000, 60_000)


def test_the_defaults_ignore_the_environment(monkeypatch):
    monkeypatch.setenv("BILLING_RUN_WORKERS", "4")
    assert Tuning().run_workers == 2 and Settings(service="x").tuning.run_workers == 2


@pytest.mark.parametrize("name, value, expected", [
    ("BILLING_RUN_WORKERS", "0", "greater than 0"),
    ("BILLING_RUN_CHUNK", "many", "valid integer"),
    ("BILLING_OVERDUE_MS", "1.5", "valid integer"),
    ("BILLING_PENDING_FACTS_S", "-1", "greater than 0"),
    ("BILLING_METERING_INTERVAL_S", "soon", "valid number"),
])
def test_a_bad_value_stops_start_up_with_the_variable_named(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env("rating")
    assert f"{name}={value!r}" in str(refused.value) and expected in str(refused.value)


def test_a_bad_integer_elsewhere_is_a_settings_error_too(monkeypatch):
    monkeypatch.setenv("BILLING_POOL_MAX", "ten")
    with pytest.raises(SettingsError, match="BILLING_POOL_MAX must be an integer"):
        Settings.from_env("rating")


def test_billing_serve_refuses_to_start_on_a_bad_value():
    env = {**os.environ, "BILLING_RUN_WORKERS": "none"}
    done = subprocess.run([sys.executable, "-m", "cli.main", "serve", "rating"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2, done.stderr
    assert "billing serve rating: invalid settings: BILLING_RUN_WORKERS='none'" in done.stderr
    assert "Traceback" not in done.stderr
