"""Scenario files: load and validate, run through the platform's own rules, compare with `expected`."""

from .compare import diff
from .model import ScenarioError, ScenarioModel, load_scenario, parse_scenario
from .runner import run_scenario


def check_scenario(path) -> list[str]:
    """Differences between a scenario file's result and its `expected` (empty: it passes).

    Raises ScenarioError for an invalid file.
    """
    scenario = load_scenario(path)
    return diff(scenario.expected or {}, run_scenario(scenario))


__all__ = ["ScenarioError", "ScenarioModel", "check_scenario", "diff", "load_scenario", "parse_scenario",
           "run_scenario"]
