"""The Kubernetes manifests scrape every service's /metrics and scale each consumer by its lag
the way KEDA's Kafka scaler is meant to be used."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from cli.ops import EDGES
from contracts import topics

ROOT = Path(__file__).resolve().parents[2]
DOCS = [d for f in sorted((ROOT / "deploy/k8s").glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
DEPLOYMENTS = {d["metadata"]["name"]: d for d in DOCS if d["kind"] == "Deployment"}
SCALED = {d["metadata"]["name"]: d for d in DOCS if d["kind"] == "ScaledObject"}
PARTITIONS = {t.name: t.partitions for t in topics.ALL}


def _service(deployment: str) -> str:
    return DEPLOYMENTS[deployment]["spec"]["template"]["spec"]["containers"][0]["args"][1]


def _consumed(service: str) -> set[str]:
    """The registry topics the service subscribes to, from its own wiring."""
    app = importlib.import_module(f"services.{service}.app")
    runtime, _ = app.build()  # settings from the environment: nothing is started
    return {name.split(":", 1)[1] for name in runtime.consumers}


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_every_pod_is_scraped_on_its_http_port(name):
    template = DEPLOYMENTS[name]["spec"]["template"]
    port = template["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": "/metrics"}


# the edges (the portal) consume no Kafka topic: no lag to scale by
@pytest.mark.parametrize("name", [n for n in DEPLOYMENTS if _service(n) not in EDGES])
def test_each_consumer_scales_by_its_lag_within_its_partitions(name):
    scaled = SCALED[name]["spec"]
    service = _service(name)
    consumed = _consumed(service)
    assert scaled["scaleTargetRef"]["name"] == name
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    assert scaled["triggers"]
    for trigger in scaled["triggers"]:
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert meta["consumerGroup"] == service, "the services' group is the service's name"
        assert meta["topic"] in consumed, f"{name} does not consume {meta['topic']}"
        assert scaled["maxReplicaCount"] <= PARTITIONS[meta["topic"]], "more replicas than partitions idle"
        assert int(meta["lagThreshold"]) > int(meta["activationLagThreshold"]) > 0
        assert meta["allowIdleConsumers"] == "false"
        assert meta["offsetResetPolicy"] == "earliest", "the consumers start from the earliest offset"
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 60, "a rebalance per flap otherwise"


def test_prometheus_operator_scrapes_every_pod():
    monitors = [d for d in DOCS if d["kind"] == "PodMonitor"]
    assert [m["spec"]["selector"]["matchLabels"] for m in monitors] == [
        {"app.kubernetes.io/part-of": "billing-platform"}]
    assert monitors[0]["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
