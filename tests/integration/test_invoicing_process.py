"""`billing serve invoicing` as its own process and `billing run-billing --wait` against it, with
the test playing the rating service on the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.support.invoicing import charges, opened, summary
from tests.support.infra import ROOT
from tests.support.kafka import publish_envelopes, read_all
from tests.support.processes import free_port

pytestmark = pytest.mark.infra


async def test_run_billing_waits_until_the_run_is_reconciled(services, service_env, infra, namespace, db):
    port = free_port()
    # no scheduler tick: its own run request for x1 and x2 could come first on rating.requests
    services("invoicing", port, BILLING_SCHEDULER_MS="3600000")
    await publish_envelopes(infra.kafka, namespace + "provisioning.events", [opened("x1"), opened("x2")])
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", "run-billing", "--month", "2026-05", "--wait", "--timeout", "60",
        cwd=ROOT, env={**os.environ, **service_env, "INVOICING_HTTP_PORT": str(port)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    requests = await read_all(infra.kafka, namespace + "rating.requests", 1, timeout=30, counted=_of_may)
    request = next(r for r in map(_payload, requests) if r["month"] == "2026-05")
    run_id = request["run_id"]
    await publish_envelopes(infra.kafka, namespace + "rating.charges", [
        charges(run_id, "x1", ["10.00"]), charges(run_id, "x2", ["5.55", "1.00"]),
        summary(run_id, 2, {"USD": "16.55"})])
    out, _ = await asyncio.wait_for(cli.communicate(), 90)
    text = out.decode()
    assert cli.returncode == 0, text
    assert "status:   reconciled" in text and "invoices: 2" in text and '"USD": "16.55"' in text


def _payload(record) -> dict:
    return json.loads(record.value)["payload"]


def _of_may(record) -> bool:
    return _payload(record)["month"] == "2026-05"
