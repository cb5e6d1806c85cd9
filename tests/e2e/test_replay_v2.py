"""Version-2 scenario files replayed through the real services, as separate processes on manual
clocks (`BILLING_CLOCK=manual`) on the real Kafka and PostgreSQL, give their `expected` outputs:
prepaid credits (vouchers, daily debits, run debits, notices) and money after the invoice
(payments, disputes, credit notes, refunds, balances, statements)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli.scenarios import diff, load_scenario, run_scenario
from cli.scenarios.compare import V2_PARTS
from cli.scenarios.replay import Endpoints, Replay, ReplayError
from cli.scenarios.replay_v2 import is_version_2
from shared.settings import Settings

pytestmark = pytest.mark.infra
V2 = Path(__file__).resolve().parents[3] / "shared" / "scenarios" / "v2"
# every service a version-2 replay drives or waits for (auto_provisioning plays no part in these)
SERVICES = ("provisioning", "rating", "prepaid_credit", "invoicing", "disputes")


def _platform(services, **extra: str) -> dict:
    # the scheduler stays out of the way (replay accounts are run on request anyway)
    env = {"BILLING_SCHEDULER_MS": "3600000", **extra}
    return {name: services(name, **env) for name in SERVICES}


def _replay(platform, infra, namespace, api_keys, path: Path) -> Replay:
    endpoints = Endpoints(platform["provisioning"].url, platform["invoicing"].url, timeout=120,
                          api_key=api_keys.operator, prepaid_credit=platform["prepaid_credit"].url,
                          disputes=platform["disputes"].url, services={n: p.url for n, p in platform.items()})
    settings = Settings(service="scenario-replay", kafka_bootstrap_servers=infra.kafka,
                        database_url=infra.database_url, topic_prefix=namespace)
    return Replay(load_scenario(path), endpoints, settings)


OWN = Path(__file__).resolve().parents[1] / "scenarios"
# every shared version-2 file (the acceptance files of issues 11 and 12) and the project's files
# where the preview and the live services once disagreed, by default; BILLING_REPLAY_V2=all adds
# the rest of the project's own (about half a minute each: a platform is started for each)
LIVE_CHECKED = [OWN / "prepaid-run-late-on-the-metering-day.json"]
FILES = sorted(V2.glob("*.json")) + ([p for p in sorted(OWN.glob("*.json")) if is_version_2(load_scenario(p))]
                                     if os.environ.get("BILLING_REPLAY_V2") == "all" else LIVE_CHECKED)


# one platform per file: its clocks only move forward, and the files start in February or March
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
async def test_a_version_2_file_replayed_on_manual_clocks_gives_its_expected(services, infra, namespace,
                                                                             api_keys, path):
    platform = _platform(services, BILLING_CLOCK="manual")
    replay = _replay(platform, infra, namespace, api_keys, path)
    result = await replay.run()
    assert diff(replay.scenario.expected, result) == []
    # and again: the clocks are past this file's first instant now, which the replay refuses
    again = _replay(platform, infra, namespace, api_keys, path)
    with pytest.raises(ReplayError, match="past this file's first instant"):
        await again.run()


async def test_a_version_2_file_is_refused_on_the_system_clock(services, infra, namespace, api_keys):
    platform = _platform(services)
    replay = _replay(platform, infra, namespace, api_keys, V2 / "v2-dispute-refund.json")
    with pytest.raises(ReplayError, match="run.* on the system clock: start the platform with BILLING_CLOCK=manual"):
        await replay.run()


async def test_a_version_1_file_replays_on_manual_clocks_as_on_the_system_clock(services, infra, namespace, api_keys):
    # `BILLING_CLOCK=manual make up` loads the demo (a version-1 replay) with the clocks at 2000
    platform = _platform(services, BILLING_CLOCK="manual")
    path = V2.parent / "user-packs.json"
    replay = _replay(platform, infra, namespace, api_keys, path)
    expected = {k: v for k, v in run_scenario(replay.scenario).items() if k not in V2_PARTS}  # a version-1 replay
    assert expected["invoices"] and diff(expected, await replay.run()) == []
