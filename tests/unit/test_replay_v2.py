"""The replay's version-2 half without a platform: which files need manual clocks, where a replay
stops, voucher codes in a replay's namespace, the statements' months."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenarios import load_scenario
from cli.scenarios.replay import Endpoints, Replay
from cli.scenarios.replay_v2 import _months, is_version_2
from shared.settings import Settings

REPO = Path(__file__).parents[2]
SHARED = REPO.parent / "shared" / "scenarios"


@pytest.mark.parametrize("path", sorted(SHARED.glob("*.json")) + sorted(SHARED.glob("v2/*.json")),
                         ids=lambda p: p.stem)
def test_version_2_files_and_only_they_need_manual_clocks(path):
    assert is_version_2(load_scenario(path)) == (path.parent.name == "v2")


def _version2(name: str, ns: str = "r1a2b3c4-"):
    replay = Replay(load_scenario(SHARED / "v2" / f"{name}.json"), Endpoints(), Settings(service="replay"), ns)
    return replay.v2


def test_the_fax_co_replay_stops_at_its_events_each_utc_midnight_and_until():
    v2 = _version2("v2-prepaid-fax-co")
    stops = [s.isoformat() for s in v2.stops]
    assert stops[:3] == ["2026-03-01T09:00:00+00:00", "2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"]
    assert "2026-03-03T12:00:00+00:00" in stops and "2026-04-01T00:00:00+00:00" in stops
    assert stops[-1] == "2026-04-15T00:00:00+00:00" and len(stops) == len(set(stops)) == 48  # 45 midnights, 3 events off them


def test_a_subscription_file_stops_at_its_events_and_until_only():
    v2 = _version2("v2-dispute-refund")
    assert [s.isoformat() for s in v2.stops] == [
        "2026-02-10T12:00:00+00:00", "2026-03-01T00:00:00+00:00", "2026-03-05T10:00:00+00:00",
        "2026-03-06T15:00:00+00:00", "2026-03-10T09:00:00+00:00", "2026-03-31T12:00:00+00:00"]


def test_voucher_codes_get_the_namespace_without_its_dash_and_invalid_ones_stay_invalid():
    v2 = _version2("v2-prepaid-fax-co")
    assert v2.code("FAXCO500") == "r1a2b3c4FAXCO500"
    assert v2.code("no-dash") == "no-dash" and v2.code("ab") == "ab"  # refused as they are
    assert v2.code("A" * 30) == "r1" + "A" * 30 and v2.code("B" * 32) == "B" * 32  # at most 32 characters


def test_statement_months_run_from_the_first_invoice_to_until():
    from datetime import date

    assert _months(date(2026, 11, 1), date(2027, 2, 3)) == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert _months(date(2026, 3, 1), date(2026, 3, 31)) == ["2026-03"]


def test_deadlines_become_stops_when_they_lie_ahead_and_by_until():
    from datetime import datetime, timedelta, timezone

    v2 = _version2("v2-dispute-refund")
    v2.done = 4  # settled up to the dispute's receipt, 03-06 15:00
    v2.stop_at(datetime(2026, 3, 11, 15, tzinfo=timezone.utc))  # its investigation deadline
    v2.stop_at(datetime(2026, 3, 11, 16, tzinfo=timezone(timedelta(hours=1))))  # the same instant again
    v2.stop_at(datetime(2026, 3, 2, tzinfo=timezone.utc))  # behind: settled already
    v2.stop_at(datetime(2026, 4, 1, tzinfo=timezone.utc))  # after until
    assert [s.isoformat() for s in v2.stops[4:]] == [
        "2026-03-10T09:00:00+00:00", "2026-03-11T15:00:00+00:00", "2026-03-31T12:00:00+00:00"]
