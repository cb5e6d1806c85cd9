"""The repository's shape: import boundaries (import-linter), the Docker topology, the local scripts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py"))
KAFKA_LESS = {"portal"}  # HTTP-only edges (cli/ops.py EDGES)


def test_import_boundaries_hold():
    """contracts < shared < services < cli; no service imports another but rating's pricing core;
    domain and pricing modules import no database, Kafka, HTTP framework or clock (the contracts
    are in pyproject.toml, [tool.importlinter]; relative imports count too)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pricing_core_is_pure():
    allowed = {"__future__", "bisect", "calendar", "collections", "dataclasses", "datetime", "decimal",
               "enum", "fractions", "functools", "itertools", "math", "operator", "typing", "zoneinfo",
               "dateutil", "services", "babel"}
    kit = {"shared.calendar", "shared.money"}  # the kit's one calendar and one rounding, pure too
    for path in (ROOT / "services/rating/pricing").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed or name in kit, f"{path.name} imports {name}"


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
            found |= {module, *(f"{module}.{a.name}" for a in node.names)}
    return found


def test_no_test_module_imports_another():
    """Builders and fixtures shared by tests live in tests/support (and conftest.py), never in a
    test module another one imports."""
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for module in _imported_modules(path):
            assert not module.rsplit(".", 1)[-1].startswith("test_"), f"{path.relative_to(ROOT)} imports {module}"


def test_docker_compose_declares_kafka_postgres_and_every_service():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    declared = compose["services"]
    assert "kafka" in declared and declared["kafka"]["image"].startswith("apache/kafka:4")
    assert "postgres" in declared and declared["postgres"]["image"].startswith("postgres:")
    for service in SERVICES:
        assert service in declared, f"{service} missing from docker-compose.yml"
        assert declared[service]["command"] == ["serve", service]
        assert declared[service]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert {"kafka", "postgres"} <= set(declared[service]["depends_on"])


def _walk(node, path=""):
    """Every (path, scalar) of a YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")
    else:
        yield path, node


def test_docker_compose_keeps_no_password_and_publishes_on_loopback_only():
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if "PASSWORD" in key and not key.endswith("_FILE"):
                pytest.fail(f"{name}: {key} holds a password")
            if key.endswith("PASSWORD_FILE"):
                assert value.startswith("/run/secrets/"), f"{name}: {key}={value}"
            # a password only ever by reference to the environment, never written down
            assert "password=" not in value.lower().replace('password="${', ""), f"{name}: {key}"
            assert not re.search(r"://[^/@:]+:[^/@]+@", value), f"{name}: {key} has credentials in a URL"
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"environment"}, f"secret {name} must come from the environment"
    for service in SERVICES:
        env = compose["services"][service]["environment"]
        if service not in KAFKA_LESS:
            assert env["KAFKA_SASL_USERNAME"] == service and env["KAFKA_SECURITY_PROTOCOL"].startswith("SASL")
        else:
            assert not any(k.startswith("KAFKA_") for k in env), f"{service} uses no Kafka: no credentials"
        assert env["DATABASE_URL"].startswith(f"postgresql://{service}@"), "each service its own role"


def _k8s() -> list[dict]:
    return [d for f in sorted((ROOT / "deploy/k8s").glob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]


def test_kubernetes_runs_every_service():
    deployments = {d["spec"]["template"]["spec"]["containers"][0]["args"][1]
                   for d in _k8s() if d["kind"] == "Deployment"}
    assert set(SERVICES) <= deployments


def test_kubernetes_references_each_services_own_secret_and_inlines_none():
    docs = _k8s()
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are created apart, never committed"
    for path, value in (p for d in docs for p in _walk(d)):
        if isinstance(value, str) and "password" in path.lower() and "value" in path:
            assert value.startswith("/var/run/secrets/"), f"{path}: a password written down"
    for d in (d for d in docs if d["kind"] == "Deployment"):
        name, pod = d["metadata"]["name"], d["spec"]["template"]["spec"]
        refs = {v["valueFrom"]["secretKeyRef"]["name"] for v in pod["containers"][0]["env"] if "valueFrom" in v}
        mounted = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        # its own credentials, and the API keys' hashes every HTTP service reads (README "Security")
        keys = set() if name in KAFKA_LESS else {"billing-api-keys"}  # the portal verifies no API key
        assert refs == {f"billing-{name}"} and mounted == {f"billing-{name}", *keys}, name


def test_kubernetes_denies_by_default_and_lets_only_http_edges_in():
    policies = [d for d in _k8s() if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0]["spec"] and "egress" not in deny[0]["spec"]
    egress = [p for p in policies if "egress" in p["spec"]]
    allowed = {port["port"] for p in egress for rule in p["spec"]["egress"] for port in rule.get("ports", [])}
    assert {5432, 9092} <= allowed, "services must reach PostgreSQL and Kafka"
    ports = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
             for d in _k8s() if d["kind"] == "Deployment"}
    for p in (p for p in policies if "ingress" in p["spec"]):
        name = p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        assert [port["port"] for rule in p["spec"]["ingress"] for port in rule["ports"]] == [ports[name]]


def test_local_scripts_exist_and_are_executable():
    for script in ("deploy/local/infra.sh", "deploy/local/services.sh", ".ci/run"):
        path = ROOT / script
        assert path.exists() and path.stat().st_mode & 0o111, script
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_local_scripts_ask_passwords_and_authorize_kafka_clients():
    infra = (ROOT / "deploy/local/infra.sh").read_text()
    assert "host  all all 127.0.0.1/32   scram-sha-256" in infra
    assert "NOSUPERUSER" in infra and "GRANT CONNECT, CREATE, TEMPORARY ON DATABASE" in infra
    for setting in ("listeners=SASL_PLAINTEXT://127.0.0.1:", "sasl.enabled.mechanisms=SCRAM-SHA-512",
                    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                    "allow.everyone.if.no.acl.found=false", "auto.create.topics.enable=false"):
        assert setting in infra, setting
    assert "umask 077" in infra, "secrets readable by their owner only"
    services = (ROOT / "deploy/local/services.sh").read_text()
    assert '. "$VAR/secrets/$s.env"' in services, "each service with its own credentials"
