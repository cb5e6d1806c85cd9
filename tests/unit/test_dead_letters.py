"""Dead letters without infrastructure: payload rendering, redrive headers, the CLI's parsing and table."""

from __future__ import annotations

import base64
import json

import pytest

from cli.dead_letters import _default_url, table
from cli.main import build_parser
from shared.dead_letters import Origin, render_payload, storable


@pytest.mark.parametrize("raw, expected", [
    (None, ("none", None)),
    (b"", ("text", "")),
    (b'{"a": [1, "\\u0000"]}', ("json", {"a": [1, "\x00"]})),
    (b"123", ("json", 123)),
    (b"\x00not json", ("text", "\x00not json")),
    ("caf\u00e9 \U0001f600".encode(), ("text", "caf\u00e9 \U0001f600")),
    (b"\xff\xfe\x00", ("base64", base64.b64encode(b"\xff\xfe\x00").decode())),
    (b"[" * 5000 + b"]" * 5000, ("text", "[" * 5000 + "]" * 5000)),  # too deep for JSON: shown as text
    (b"[" * 1010 + b"]" * 1010, ("text", "[" * 1010 + "]" * 1010)),
    (b"[" * 65 + b"]" * 65, ("text", "[" * 65 + "]" * 65)),
    (b"[" * 64 + b"]" * 64, ("json", json.loads("[" * 64 + "]" * 64))),
    (b"\"\\ud800\"", ("text", "\"\\ud800\"")),  # a lone surrogate could not be sent back as JSON
    (b"99999999999999999999999", ("json", 99999999999999999999999)),  # beyond 64 bits, exact
    (b'{"x": NaN}', ("text", '{"x": NaN}')),
])
def test_payload_is_shown_as_json_text_or_base64(raw, expected):
    assert render_payload(raw) == expected


def test_origin_round_trips_through_redrive_headers():
    origin = Origin("rating:provisioning.events", "t_provisioning.events", 7, 2**40, 12)
    assert Origin.from_headers(origin.headers()) == origin
    assert "redrive_of" not in Origin("c", "t", 0, 0).headers()


GOOD = {"consumer": "c", "source_topic": "t", "source_partition": "0", "source_offset": "1", "redrive_of": "1"}


@pytest.mark.parametrize("headers", [
    {},
    {**GOOD, "source_partition": "x"},
    {k: v for k, v in GOOD.items() if k != "redrive_of"},
    {**GOOD, "redrive_of": "0"}, {**GOOD, "redrive_of": str(2**63)}, {**GOOD, "redrive_of": "9" * 5000},
    {**GOOD, "source_offset": "-1"}, {**GOOD, "source_partition": str(2**31)},
    {**GOOD, "consumer": ""}, {**GOOD, "consumer": "a\x00b"}, {**GOOD, "source_topic": "t" * 301},
])
def test_headers_not_written_by_a_redrive_are_refused(headers):
    with pytest.raises((KeyError, ValueError)):
        Origin.from_headers(headers)


def test_text_with_nul_is_stored_escaped():
    assert storable("a\x00b") == "a\\x00b" and storable(None) is None and storable("") == ""


def test_cli_parses_each_verb():
    parser = build_parser()
    args = parser.parse_args(["dead-letters", "list", "--service", "rating", "--state", "dead", "--json"])
    assert (args.verb, args.service, args.state, args.json, args.limit) == ("list", "rating", "dead", True, 50)
    args = parser.parse_args(["dead-letters", "redrive", "--service", "invoicing", "42", "--by", "ann"])
    assert (args.verb, args.id, args.by, args.note) == ("redrive", 42, "ann", None)
    for bad in (["dead-letters", "redrive", "--service", "rating"],  # no id
                ["dead-letters", "show", "--service", "nowhere", "1"],
                ["dead-letters", "list", "--service", "rating", "--state", "alive"],
                ["dead-letters", "show", "--service", "rating", "one"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_default_url_is_the_services_port_unless_overridden(monkeypatch):
    for var in ("RATING_URL", "RATING_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    assert _default_url("rating") == "http://127.0.0.1:8003"
    monkeypatch.setenv("RATING_HTTP_PORT", "9999")
    assert _default_url("rating") == "http://127.0.0.1:9999"
    monkeypatch.setenv("RATING_URL", "https://rating.internal")
    assert _default_url("rating") == "https://rating.internal"


def test_table_cuts_errors_to_one_line():
    item = {"id": 7, "state": "dead", "recorded_at": "2026-11-29T05:00:00.123+00:00", "topic": "usage.records",
            "partition": 3, "offset": 99, "event_type": None, "error": "undecodable:\n" + "x" * 200}
    header, row = table([item]).splitlines()
    assert header.split() == ["id", "state", "recorded_at", "source", "event_type", "error"]
    assert row.split()[:5] == ["7", "dead", "2026-11-29T05:00:00", "usage.records[3]@99", "-"]
    assert row.endswith("…") and "\n" not in row and len(row) < 160


def test_every_service_http_app_gets_the_dead_letter_routes():
    from fastapi import FastAPI

    from shared.runtime import add_platform_routes

    app = FastAPI()
    add_platform_routes(app)
    add_platform_routes(app)  # once only
    paths = {p: sorted(ops) for p, ops in app.openapi()["paths"].items() if p.startswith("/v1/dead-letters")}
    assert paths == {"/v1/dead-letters": ["get"], "/v1/dead-letters/{dead_letter_id}": ["get"],
                     "/v1/dead-letters/{dead_letter_id}/redrive": ["post"],
                     "/v1/dead-letters/{dead_letter_id}/discard": ["post"]}
