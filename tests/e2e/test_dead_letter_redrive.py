"""A poison message through the running services and the `billing dead-letters` command: rating
dead-letters an event auto_provisioning applied; once the cause is gone, one redrive applies it in
rating exactly once, a second is refused, and auto_provisioning never sees it again."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from cli.main import main as billing
from contracts import wrap
from contracts.provisioning import AccountOpenedV1
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra
AT = datetime(2026, 4, 1, tzinfo=timezone.utc)


def _cli(capsys, url: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = billing(["dead-letters", *argv, "--service", "rating", "--url", url])
    out, err = capsys.readouterr()
    return code, out, err


async def test_redrive_after_the_fault_is_gone_applies_once(services, db, namespace, infra, capsys, monkeypatch,
                                                            api_keys):
    monkeypatch.setenv("BILLING_API_KEY", api_keys.operator)  # the CLI runs in this process
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    rating = services("rating", port, BILLING_FAIL_EVENT_TYPE="provisioning.account.opened")
    services("auto_provisioning", free_port())
    opened = wrap(AccountOpenedV1(account_id="acme", name="Acme", time_zone="Europe/Berlin", at=AT),
                  key="acme", producer="test", occurred_at=AT)
    await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", [opened])

    async def listed():
        code, out, _ = _cli(capsys, url, "list", "--json")
        return code == 0 and json.loads(out)["items"]
    [dead] = await eventually(listed, what="rating dead-lettered the event")
    assert dead["event_id"] == str(opened.event_id) and "fault injection" in dead["error"]
    code, out, _ = _cli(capsys, url, "list", "--state", "dead")
    header, row = out.splitlines()
    assert code == 0 and header.split()[:2] == ["id", "state"] and row.split()[:2] == [str(dead["id"]), "dead"]

    rating.stop()  # the cause is removed: rating restarts without the fault
    services("rating", port)
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.accounts") == 0
    code, out, _ = _cli(capsys, url, "redrive", str(dead["id"]), "--by", "e2e", "--note", "fault removed")
    assert code == 0 and json.loads(out)["state"] == "redriven"

    async def rated_account():
        return await db.fetchval(f"SELECT count(*) FROM {namespace}rating.accounts WHERE account_id = 'acme'")
    assert await eventually(rated_account, what="the redriven event applied") == 1
    code, _, err = _cli(capsys, url, "redrive", str(dead["id"]))
    assert code == 1 and "409 already_redriven" in err
    code, out, _ = _cli(capsys, url, "show", str(dead["id"]))
    shown = json.loads(out)
    assert shown["outcome"] == "applied" and shown["state_by"] == "e2e" and shown["note"] == "fault removed"
    assert shown["payload"]["event_id"] == str(opened.event_id)
    code, _, err = _cli(capsys, url, "show", "987654")
    assert code == 1 and "unknown_dead_letter" in err

    async def claimed(schema: str) -> int:
        return await db.fetchval(f"SELECT count(*) FROM {namespace}{schema}.inbox WHERE event_id = $1",
                                 opened.event_id)
    # applied once in each service, dead-lettered only in rating
    assert await eventually(lambda: claimed("auto_provisioning"), what="auto_provisioning applied it") == 1
    assert await claimed("rating") == 1
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}auto_provisioning.dead_letters") == 0
    assert await db.fetchval(f"SELECT count(*) FROM {namespace}rating.dead_letters") == 1
