"""Contracts are data: generated JSON Schema and AsyncAPI must match the models, and every topic
and message in the registry must be known."""

from __future__ import annotations

import json

from contracts import generate, topics
from contracts.registry import models


def test_generated_files_match_the_models():
    stale = [str(p.relative_to(generate.ROOT)) for p, text in generate.render().items()
             if not p.exists() or p.read_text() != text]
    extra = [p.name for p in generate.SCHEMAS.glob("*.json")
             if p not in generate.render()]
    assert not stale and not extra, (
        f"contracts drifted from the code (run `make contracts`): stale={stale} extra={extra}")


def test_every_topic_message_is_a_registered_type():
    names = {name for (name, _) in models()}
    for topic in topics.ALL:
        assert topic.partitions >= 1 and topic.name
        for message in topic.messages:
            assert message in names, f"{topic.name} carries unregistered {message}"


def test_asyncapi_document_names_every_topic():
    doc = json.loads(generate.ASYNCAPI.read_text())
    assert doc["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {t.name for t in topics.ALL} <= addresses


def test_every_model_is_frozen_and_ignores_unknown_fields():
    for (name, version), model in models().items():
        if name.startswith("test."):
            continue
        config = model.model_config
        assert config.get("frozen") is True, name
        assert config.get("extra") == "ignore", name
