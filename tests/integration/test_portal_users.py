"""`billing portal users`: a user with its own partner key, its token sealed in the portal's
schema, its password hashed; a refused user leaves no working key; disabling revokes the key."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

import pytest

from cli import portal as cli_portal
from services.portal import users, vault
from services.portal.settings import PortalSettings
from shared import apikeys

pytestmark = pytest.mark.infra


@pytest.fixture
def portal_env(monkeypatch, infra, namespace, db, tmp_path):  # db: drops the namespace afterwards
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    monkeypatch.setenv("BILLING_SCHEMA_PREFIX", namespace)
    monkeypatch.setenv("PORTAL_SECRETS_FILE", str(tmp_path / "portal.json"))
    monkeypatch.setenv("BILLING_API_KEYS_FILE", str(tmp_path / "keys.json"))
    return PortalSettings.from_env(), tmp_path / "keys.json"


def _active(key_file) -> dict[str, apikeys.ApiKey]:
    now = datetime.now(timezone.utc)
    return {k: v for k, v in apikeys.read_keys(key_file).items() if v.status(now) == "active"}


async def test_a_user_gets_its_own_partner_key_sealed_and_a_hashed_password(portal_env, db, namespace):
    settings, key_file = portal_env
    user = await cli_portal.add_user("acme", "Ops@Acme.example", "partner", "a long passphrase", settings=settings)
    assert (user.email, user.account_id, user.kind) == ("ops@acme.example", "acme", "partner")
    [key] = _active(key_file).values()
    assert (key.role, key.account_id, key.label) == ("partner", "acme", "portal user ops@acme.example")
    row = await db.fetchrow(f"SELECT * FROM {namespace}portal.users")
    assert row["api_key_id"] == key.id and row["password_hash"].startswith("$argon2id$")
    token = vault.load(settings.secrets_file).open(row["api_token"])
    assert apikeys.verify(token, apikeys.read_keys(key_file), datetime.now(timezone.utc)).id == key.id
    assert token.encode() not in bytes(row["api_token"])  # sealed, never in clear
    await db.execute(f"SET search_path TO {namespace}portal")
    assert await users.authenticate(db, "OPS@acme.example", "a long passphrase") == user
    assert await users.authenticate(db, "ops@acme.example", "a wrong passphrase") is None
    assert await users.authenticate(db, "nobody@acme.example", "a long passphrase") is None


async def test_a_refused_user_leaves_no_working_key(portal_env):
    settings, key_file = portal_env
    await cli_portal.add_user("acme", "ops@acme.example", "partner", "a long passphrase", settings=settings)
    with pytest.raises(users.UserExists):
        await cli_portal.add_user("acme", "OPS@acme.example", "partner", "another passphrase", settings=settings)
    with pytest.raises(ValueError, match="12 characters"):
        await cli_portal.add_user("acme", "short@acme.example", "administrator", "short", settings=settings)
    assert len(apikeys.read_keys(key_file)) == 3 and len(_active(key_file)) == 1


def test_disabling_a_user_revokes_its_key(portal_env, capsys):
    settings, key_file = portal_env
    add = argparse.Namespace(account="acme-shop", email="it@shop.example", kind="administrator",
                             password_stdin=False)
    assert cli_portal.run_add(add) == 0
    password = capsys.readouterr().out.strip()
    assert len(password) >= 16 and len(_active(key_file)) == 1
    assert cli_portal.run_disable(argparse.Namespace(email="it@shop.example")) == 0
    assert not _active(key_file)
    assert cli_portal.run_disable(argparse.Namespace(email="it@shop.example")) == 2
