"""Every shared acceptance scenario and every scenario of our own passes `--check`, in-process."""

import subprocess
import sys
from pathlib import Path

import pytest

from cli.scenarios import check_scenario

REPO = Path(__file__).parents[2]
SHARED = REPO.parent / "shared" / "scenarios"
OWN = REPO / "tests" / "scenarios"
SHARED_FILES = sorted(SHARED.glob("*.json"))
OWN_FILES = sorted(OWN.glob("*.json"))
PREPAID_V2_FILES = sorted((SHARED / "v2").glob("v2-prepaid-*.json"))  # version 2: prepaid credits


def test_scenario_folders_are_not_empty():
    assert SHARED_FILES, f"no scenarios in {SHARED}"
    assert OWN_FILES, f"no scenarios in {OWN}"
    assert PREPAID_V2_FILES, f"no v2-prepaid-*.json in {SHARED / 'v2'}"


@pytest.mark.parametrize("path", SHARED_FILES + PREPAID_V2_FILES + OWN_FILES,
                         ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_scenario_passes_check(path):
    assert check_scenario(path) == []


INVALID = """{"name": "bad", "catalog": {"currency": "USD", "products": [
  {"part_number": "A", "kind": "recurring", "unit_price": "12.00"}]},
 "accounts": [{"id": "acme", "time_zone": "UTC"}],
 "events": [
  {"at": "2026-03-01T00:00:00Z", "type": "feature_provisioned", "account": "acme", "subscription": "s", "part_number": "A"},
  {"at": "2026-03-02T00:00:00", "type": "feature_removed", "subscription": "s"},
  {"at": "2026-04-01T00:00:00Z", "type": "billing_run"}
 ]}"""


def test_invalid_scenario_gives_a_clear_error_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(INVALID)
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "run", str(path), "--check"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    problems = done.stderr.strip().splitlines()
    assert any("events[1].at" in p and "timezone" in p for p in problems), problems
    assert any("events[2].month" in p and "required" in p.lower() for p in problems), problems


def test_events_out_of_order_and_non_json_are_reported(tmp_path):
    path = tmp_path / "order.json"
    path.write_text(INVALID.replace('"2026-03-02T00:00:00"', '"2026-02-01T00:00:00Z"')
                    .replace('"type": "billing_run"}', '"type": "billing_run", "month": "2026-04"}'))
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "run", str(path)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "events[1].at" in done.stderr and "Traceback" not in done.stderr
    path.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "run", str(path)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "not JSON" in done.stderr


def test_check_reports_differences_with_exit_code_1(tmp_path):
    text = (SHARED / "seed-000-example-1.json").read_text().replace('"6.58"', '"6.59"')
    path = tmp_path / "wrong.json"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "run", str(path), "--check"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 1 and "missing" in done.stdout and "6.59" in done.stdout
