"""Scenario version 2, prepaid parts: `until`, voucher event validation, replay's refusal, v1 unchanged."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.ops import SERVICES
from cli.scenarios import ScenarioError, parse_scenario, run_scenario

REPO = Path(__file__).parents[2]
FAX_CO = REPO.parent / "shared" / "scenarios" / "v2" / "v2-prepaid-fax-co.json"


def fax_co(**changes) -> dict:
    data = json.loads(FAX_CO.read_text())
    data.update(changes)
    return data


def test_until_takes_outputs_as_of_it_and_ignores_later_events():
    # before the April run: only the redemption and the 03-11 usage debit
    result = run_scenario(parse_scenario(fax_co(until="2026-03-31T23:59:59Z")))
    [credit] = result["credit"]
    assert [(e["kind"], e["amount"]) for e in credit["history"]] == [("redeemed", "500.00"), ("usage", "-10.00")]
    assert result["notices"] == [] and credit["balance"] == "490.00"
    # until the lot's expiry: the May run is not in the file, the expiry is
    result = run_scenario(parse_scenario(fax_co(until="2026-05-02T00:00:00Z")))
    [credit] = result["credit"]
    assert credit["history"][-1] == {"at": "2026-05-02T00:00:00Z", "kind": "expired", "amount": "-296.45",
                                     "balance": "0.00"}
    assert credit["lifetime_estimate"] is None
    assert [n["kind"] for n in result["notices"]] == ["low_balance", "exhausted"]


def test_without_until_the_last_event_is_the_end():
    data = fax_co()
    del data["until"]
    [credit] = run_scenario(parse_scenario(data))["credit"]
    assert credit["balance"] == "296.45"


def test_a_prepaid_account_gets_no_invoice_and_its_usage_no_line():
    result = run_scenario(parse_scenario(fax_co()))
    assert result["invoices"] == []
    subscription = fax_co()
    subscription["accounts"][0]["mode"] = "subscription"
    result = run_scenario(parse_scenario(subscription))
    [invoice] = result["invoices"]
    assert {line["part_number"] for line in invoice["lines"]} == {"NUM-IN", "FAX-PAGE-OUT"}
    assert result["rejections"] == [{"event": 1, "reason": "not_prepaid"}] and result["credit"] == []


@pytest.mark.parametrize("change, problem", [
    ({"lifetime_days": "sixty"}, "events[0].lifetime_days"),
    ({"credits": "lots"}, "events[0].credits"),
    ({"credits": 500}, "events[0].credits"),
])
def test_malformed_voucher_events_make_the_file_invalid(change, problem):
    data = fax_co()
    data["events"][0].update(change)
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_account_mode_must_be_known():
    data = fax_co()
    data["accounts"][0]["mode"] = "credit"
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    assert any("accounts[0].mode" in p for p in error.value.problems)


def test_replay_of_a_version_2_file_without_a_platform_says_so():
    closed = "http://127.0.0.1:9"  # nothing listens there
    env = {**os.environ, **{f"{s.upper()}_URL": closed for s in SERVICES}}
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "replay", str(FAX_CO), "--timeout", "1",
                           "--provisioning-url", closed, "--invoicing-url", closed, "--prepaid-credit-url", closed,
                           "--disputes-url", closed], capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 3 and "cannot read the services' clocks" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_run_check_passes_the_shared_prepaid_example():
    done = subprocess.run([sys.executable, "-m", "cli.main", "scenario", "run", str(FAX_CO), "--check"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok")


def test_a_run_debits_a_prepaid_account_at_its_own_metering_point_or_later():
    # New York's April metering point is 04:00 UTC: a run requested at 00:00 UTC debits then
    data = fax_co()
    data["accounts"][0]["time_zone"] = "America/New_York"
    [credit] = run_scenario(parse_scenario(data))["credit"]
    assert [e["at"] for e in credit["history"] if e["kind"] == "recurring"] == ["2026-04-01T04:00:00Z"] * 2
    # ... and not at all when `until` comes before it
    [credit] = run_scenario(parse_scenario({**data, "until": "2026-04-01T03:00:00Z"}))["credit"]
    assert [e["kind"] for e in credit["history"]] == ["redeemed", "usage"]


def test_check_reports_credit_and_notice_differences():
    from cli.scenarios import diff
    expected = fax_co()["expected"]
    actual = run_scenario(parse_scenario(fax_co()))
    assert diff(expected, actual) == []
    wrong = json.loads(json.dumps(expected))
    wrong["credit"][0]["history"][1]["amount"] = "-10.01"
    wrong["credit"][0]["lifetime_estimate"] = "2026-05-30"
    wrong["notices"][0]["at"] = "2026-04-01T02:00:00+02:00"  # the same instant: no difference
    problems = diff(wrong, actual)
    assert len(problems) == 2, problems
    assert any("history[1]" in p and "-10.01" in p for p in problems)
    assert any("lifetime_estimate" in p for p in problems)
    del wrong["credit"][0]["history"][-1]
    assert any("unexpected" in p for p in diff(wrong, actual))
