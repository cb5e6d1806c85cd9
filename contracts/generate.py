"""Generate JSON Schema (one file per event type and version) and the AsyncAPI document from the
models and the topic registry. `python -m contracts.generate` rewrites them; a test checks drift."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import contracts  # noqa: F401  (registers every model)
from contracts import topics
from contracts.envelope import Envelope
from contracts.registry import dead_letter_topic, models, redrive_topic

ROOT = Path(__file__).parent
SCHEMAS = ROOT / "schemas"
ASYNCAPI = ROOT / "asyncapi.json"


def platform_models() -> dict:
    """The registered models defined in contracts/ (tests may register throw-away ones)."""
    return {k: m for k, m in models().items() if m.__module__.startswith("contracts.")}


def json_schemas() -> dict[str, dict]:
    out = {"envelope.json": Envelope.model_json_schema()}
    for (name, version), model in sorted(platform_models().items()):
        schema = model.model_json_schema()
        schema["$id"] = f"{name}.v{version}"
        out[f"{name}.v{version}.json"] = schema
    return out


def asyncapi() -> dict:
    """An AsyncAPI 3.0 document: one channel per topic, one message per event type on it."""
    latest = {}
    for (name, version), model in platform_models().items():
        if version >= latest.get(name, (0, None))[0]:
            latest[name] = (version, model)
    channels, operations, messages = {}, {}, {}
    for topic in topics.ALL:
        refs = {}
        for name in topic.messages:
            version, model = latest[name]
            mid = f"{name}.v{version}".replace(".", "_")
            messages[mid] = {
                "name": name,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
                "contentType": "application/json",
                "headers": {"type": "object", "properties": {
                    "event_type": {"type": "string", "const": name},
                    "event_id": {"type": "string", "format": "uuid"}}},
                "payload": {"$ref": f"./schemas/{name}.v{version}.json",
                            "x-envelope": "./schemas/envelope.json"},
            }
            refs[mid] = {"$ref": f"#/components/messages/{mid}"}
        cid = topic.name.replace(".", "_")
        channels[cid] = {
            "address": topic.name,
            "description": topic.description,
            "messages": refs,
            "bindings": {"kafka": {"partitions": topic.partitions, "replicas": 1,
                                   "topicConfiguration": {"retention.ms": topic.retention_ms}}},
            "x-key": topic.key,
            "x-producers": list(topic.producers),
            "x-consumers": list(topic.consumers),
        }
        operations[f"publish_{cid}"] = {"action": "send", "channel": {"$ref": f"#/channels/{cid}"}}
        operations[f"consume_{cid}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{cid}"}}
    channels["dead_letter"] = {
        "address": dead_letter_topic("{service}"),
        "description": "Messages a service gave up on (undecodable, or failed its retry budget), "
                       "with source_topic, source_partition, source_offset and error headers.",
    }
    channels["redrive"] = {
        "address": redrive_topic("{service}"),
        "description": "Dead letters an operator redrives (POST /v1/dead-letters/{id}/redrive): the "
                       "original bytes and key, with redrive_of (the dead letter's id), consumer, "
                       "source_topic, source_partition and source_offset headers. Read only by "
                       "the service that dead-lettered them.",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Billing platform events", "version": "1.0.0",
                 "description": "Every message is an envelope (event id, type, schema version, "
                                "occurrence instant, producer, key, correlation and causation ids) "
                                "around the payload described here."},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[Path, str]:
    files = {SCHEMAS / name: json.dumps(schema, indent=2, sort_keys=True) + "\n"
             for name, schema in json_schemas().items()}
    files[ASYNCAPI] = json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    SCHEMAS.mkdir(exist_ok=True)
    wanted = render()
    for old in SCHEMAS.glob("*.json"):
        if old not in wanted:
            old.unlink()
    for path, text in wanted.items():
        path.write_text(text)
    print(f"wrote {len(wanted)} files under {ROOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
