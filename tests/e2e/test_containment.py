"""A failure stays with its account, end to end: rating and invoicing as separate processes on the
real Kafka and PostgreSQL. An account rating cannot rate (no catalogue in its currency, written
behind the edges' validation) is quarantined; `billing run-billing --wait` reports it and exits
3; after the fix, `billing rerate --wait` rates it once and its invoice is issued."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from contracts.provisioning import AccountOpenedV1, CatalogPublishedV1, FeatureProvisionedV1
from tests.support.rating import at, env, seed_catalog
from tests.support.infra import ROOT
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually
from tests.support.processes import free_port

pytestmark = pytest.mark.infra


async def _billing(cli_env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cli.main", *args, cwd=ROOT, env=cli_env,
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    return proc.returncode, out.decode()


async def test_quarantined_account_is_reported_then_rerated(services, service_env, infra, namespace, db):
    ports = {"RATING_HTTP_PORT": str(free_port()), "INVOICING_HTTP_PORT": str(free_port())}
    procs = [services(name, **ports) for name in ("rating", "invoicing")]
    # the services this test does not run answer nowhere (free ports), never on their default
    # ports, where a platform of `make up` may be listening with other keys
    absent = {f"{name.upper()}_HTTP_PORT": str(free_port())
              for name in ("provisioning", "auto_provisioning", "prepaid_credit", "disputes")}
    cli_env = {**os.environ, **service_env, **absent, **ports}
    try:
        events = [env(seed_catalog(), "catalog")]
        for aid in ("e1", "e2"):
            events += [env(AccountOpenedV1(account_id=aid, automatic_runs=False, at=at("2026-01-01T00:00:00Z")), aid),
                       env(FeatureProvisionedV1(account_id=aid, subscription_id=f"{aid}-s", part_number="XDM00001",
                                                quantity=1, at=at("2026-03-01T00:00:00Z")), aid)]
        await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", events)
        r, i = f"{namespace}rating", f"{namespace}invoicing"

        async def stored():
            return (await db.fetchval(f"SELECT count(*) FROM {r}.subscriptions") == 2
                    and await db.fetchval(f"SELECT count(*) FROM {i}.accounts") == 2)
        await eventually(stored, what="facts stored")
        # an account in a currency without a catalogue, as an old row or a bypassing producer left it
        await db.execute(f"""INSERT INTO {r}.accounts (account_id, time_zone, mode, currency, payment_terms_days,
            opened_at) VALUES ('gbp1', 'UTC', 'subscription', 'GBP', 30, '2026-01-01Z')""")
        await db.execute(f"""INSERT INTO {r}.subscriptions (subscription_id, account_id, part_number, quantity,
            started_at, source_event_id) VALUES ('gbp1-s', 'gbp1', 'XDM00001', 1, '2026-03-01Z', gen_random_uuid())""")
        await db.execute(f"""INSERT INTO {i}.accounts (account_id, issuer, time_zone, mode, currency,
            payment_terms_days, opened_at, automatic_runs) VALUES
            ('gbp1', 'platform', 'UTC', 'subscription', 'GBP', 30, '2026-01-01Z', false)""")

        code, out = await _billing(cli_env, "run-billing", "--month", "2026-04", "--wait", "--timeout", "90")
        assert code == 3, out
        assert "status:   completed_with_quarantine" in out and "invoices: 2" in out
        assert "quarantined: gbp1 (rating: LookupError: no catalogue in GBP" in out

        code, out = await _billing(cli_env, "rerate", "--month", "2026-04", "--account", "e1")
        assert code == 2 and "no open quarantine for e1" in out  # nothing to re-rate there

        gbp = CatalogPublishedV1(currency="GBP", products=seed_catalog().products, at=at("2026-01-01T00:00:00Z"))
        await publish_envelopes(infra.kafka, f"{namespace}provisioning.events", [env(gbp, "catalog")])
        await eventually(lambda: db.fetchval(f"SELECT count(*) > 0 FROM {r}.products WHERE currency = 'GBP'"),
                         what="GBP catalogue")
        code, out = await _billing(cli_env, "rerate", "--month", "2026-04", "--account", "gbp1", "--wait",
                                   "--timeout", "90")
        assert code == 0, out
        assert "status:   reconciled" in out and "invoices: 1" in out
        invoice = await db.fetchrow(f"SELECT * FROM {i}.invoices WHERE account_id = 'gbp1'")
        assert invoice["currency"] == "GBP" and invoice["month"] == "2026-04"
        code, out = await _billing(cli_env, "quarantine", "--month", "2026-04")
        assert code == 0 and "rating (not rated: fix, then `billing rerate`): 0" in out
        code, out = await _billing(cli_env, "reinvoice", "--month", "2026-04", "--account", "e1")
        assert code == 2 and "nothing_quarantined" in out
        code, out = await _billing(cli_env, "pending-charges")
        assert code == 0 and '{"waiting": 0, "expired": 0}' in out
    finally:
        for proc in procs:
            proc.stop()
