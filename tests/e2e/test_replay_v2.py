"""Version-2 scenario files replayed through the real services, as separate processes on manual
clocks (`BILLING_CLOCK=manual`) on the real Kafka and PostgreSQL, give their `expected` outputs:
prepaid credits (vouchers, daily debits, run debits, notices) and money after the invoice
(payments, disputes, credit notes, refunds, balances, statements)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenarios import diff, load_scenario
from cli.scenarios.replay import Endpoints, Replay, ReplayError
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


# one platform per file: its clocks only move forward, and both files start in February or March
@pytest.mark.parametrize("name", ["v2-prepaid-fax-co", "v2-dispute-refund"])
async def test_a_version_2_file_replayed_on_manual_clocks_gives_its_expected(services, infra, namespace,
                                                                             api_keys, name):
    platform = _platform(services, BILLING_CLOCK="manual")
    replay = _replay(platform, infra, namespace, api_keys, V2 / f"{name}.json")
    result = await replay.run()
    assert diff(replay.scenario.expected, result) == []
    # and again: the clocks are past this file's first instant now, which the replay refuses
    again = _replay(platform, infra, namespace, api_keys, V2 / f"{name}.json")
    with pytest.raises(ReplayError, match="past this file's first instant"):
        await again.run()


async def test_a_version_2_file_is_refused_on_the_system_clock(services, infra, namespace, api_keys):
    platform = _platform(services)
    replay = _replay(platform, infra, namespace, api_keys, V2 / "v2-dispute-refund.json")
    with pytest.raises(ReplayError, match="run.* on the system clock: start the platform with BILLING_CLOCK=manual"):
        await replay.run()
