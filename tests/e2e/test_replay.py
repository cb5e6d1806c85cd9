"""Every shared acceptance scenario replayed through the real services, as separate processes on
the real Kafka and PostgreSQL, gives exactly what `billing scenario run` computes in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.scenarios import diff, load_scenario, run_scenario
from cli.scenarios.prepaid import uses_prepaid
from cli.scenarios.replay import Endpoints, Replay
from shared.settings import Settings
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.infra
SCENARIOS = sorted((Path(__file__).resolve().parents[3] / "shared" / "scenarios").glob("*.json"))
OWN = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.json"))


@pytest.fixture
def platform(service_env, log_dir, db):  # db: its teardown (dropping the namespace) runs last
    # the invoicing scheduler would bill the current month on its own: keep it out of the way
    env = {**service_env, "BILLING_SCHEDULER_MS": "3600000"}
    started = [ServiceProcess(name, env, log_dir).start(timeout=90)
               for name in ("provisioning", "rating", "invoicing")]
    yield {p.name: p for p in started}
    for proc in started:
        proc.stop()


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
        if uses_prepaid(scenario):  # replay refuses version 2's prepaid parts (billing scenario run plays them)
            continue
        expected = run_scenario(scenario)
        replayed = await Replay(scenario, endpoints, settings).run()
        found = diff(expected, replayed)  # every field the run gives, and no invoice more or less
        if found:
            problems[path.name] = found
    assert not problems, problems
