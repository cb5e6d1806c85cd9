"""Every shared acceptance scenario replayed through the real services, as separate processes on
the real Kafka and PostgreSQL, gives exactly what `billing scenario run` computes in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenarios import diff, load_scenario, run_scenario
from cli.scenarios.compare import V2_PARTS
from cli.scenarios.replay_v2 import is_version_2
from cli.scenarios.replay import Endpoints, Replay
from shared.settings import Settings

pytestmark = pytest.mark.infra
SCENARIOS = sorted((Path(__file__).resolve().parents[3] / "shared" / "scenarios").glob("*.json"))
OWN = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.json"))


@pytest.fixture
def platform(services):
    # the invoicing scheduler would bill the current month on its own: keep it out of the way
    return {name: services(name, timeout=90, BILLING_SCHEDULER_MS="3600000")
            for name in ("provisioning", "rating", "invoicing")}


def test_shared_scenarios_exist():
    assert SCENARIOS, "no scenarios in ../shared/scenarios"


async def test_replay_equals_the_in_process_run(platform, infra, namespace, api_keys):
    endpoints = Endpoints(platform["provisioning"].url, platform["invoicing"].url, timeout=90,
                          api_key=api_keys.operator)
    settings = Settings(service="scenario-replay", kafka_bootstrap_servers=infra.kafka,
                        database_url=infra.database_url, topic_prefix=namespace)
    problems = {}
    for path in SCENARIOS + OWN:  # one platform, replays one after another
        scenario = load_scenario(path)
        if is_version_2(scenario):  # on manual clocks: tests/e2e/test_replay_v2.py
            continue
        # a replay gives invoices, terminations and rejections: the version-2 outputs are the run's
        expected = {k: v for k, v in run_scenario(scenario).items() if k not in V2_PARTS + ("credit", "notices")}
        replayed = await Replay(scenario, endpoints, settings).run()
        found = diff(expected, replayed)  # every field the run gives, and no invoice more or less
        if found:
            problems[path.name] = found
    assert not problems, problems
