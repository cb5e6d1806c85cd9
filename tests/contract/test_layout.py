"""The repository's shape: import boundaries, the Docker topology, the local scripts."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_shared_never_imports_services():
    for path in (ROOT / "shared").rglob("*.py"):
        bad = [m for m in _imports(path) if m.startswith("services")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_services_import_no_other_service_but_the_pricing_core():
    for service_dir in (ROOT / "services").iterdir():
        if not service_dir.is_dir() or service_dir.name.startswith("__"):
            continue
        for path in service_dir.rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] != "services" or len(parts) < 2 or parts[1] == service_dir.name:
                    continue
                assert module.startswith("services.rating.pricing"), (
                    f"{path.relative_to(ROOT)} imports {module}")


def test_pricing_core_is_pure():
    allowed = {"__future__", "bisect", "calendar", "collections", "dataclasses", "datetime", "decimal",
               "enum", "fractions", "functools", "itertools", "math", "operator", "typing", "zoneinfo",
               "dateutil", "services"}
    for path in (ROOT / "services/rating/pricing").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_docker_compose_declares_kafka_postgres_and_every_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    declared = compose["services"]
    assert "kafka" in declared and declared["kafka"]["image"].startswith("apache/kafka:4")
    assert "postgres" in declared and declared["postgres"]["image"].startswith("postgres:")
    for service in SERVICES:
        assert service in declared, f"{service} missing from docker-compose.yml"
        assert declared[service]["command"] == ["serve", service]
        assert declared[service]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert set(declared[service]["depends_on"]) == {"kafka", "postgres"}


def test_kubernetes_runs_every_service():
    docs = list(yaml.safe_load_all((ROOT / "deploy/k8s/platform.yaml").read_text()))
    deployments = {d["spec"]["template"]["spec"]["containers"][0]["args"][1]
                   for d in docs if d and d["kind"] == "Deployment"}
    assert set(SERVICES) <= deployments


def test_local_scripts_exist_and_are_executable():
    for script in ("deploy/local/infra.sh", "deploy/local/services.sh", ".ci/run"):
        path = ROOT / script
        assert path.exists() and path.stat().st_mode & 0o111, script
    assert "make test" in (ROOT / ".ci/run").read_text()
