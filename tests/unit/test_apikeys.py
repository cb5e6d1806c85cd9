"""API keys: format, hashing, verification reasons, the key file (modes, atomic edits, reload) and
`billing keys`."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest

from cli.main import main
from shared import apikeys

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_a_key_is_random_and_only_its_hash_is_kept():
    token, entry = apikeys.new_key("operator", None, "ops", NOW)
    other, _ = apikeys.new_key("operator", None, "ops", NOW)
    assert token.startswith(f"bk_{entry.id}_") and token != other
    assert len(token.split("_", 2)[2]) >= 43  # 256 bits, url-safe base64
    assert token not in json.dumps(entry.__dict__) and entry.hash == apikeys.hash_token(token)
    assert apikeys.verify(token, {entry.id: entry}, NOW) == entry


@pytest.mark.parametrize("role, account", [("partner", None), ("operator", "acme"), ("integration", "acme"),
                                           ("admin", None), ("", None)])
def test_roles_and_accounts_must_fit(role, account):
    with pytest.raises(ValueError):
        apikeys.new_key(role, account, "", NOW)


BAD = ["", "bk_", "garbage", "x" * 100_000, "bk_0123456789abcdef_" + "é" * 40, "bk_0123456789abcdef_abc\x00" + "a" * 40,
       "Bearer bk_0123456789abcdef_" + "a" * 43, "bk_0123456789ABCDEF_" + "a" * 43, "bk_0123456789abcdef_" + "a" * 43 + "\n"]


@pytest.mark.parametrize("token", BAD)
def test_malformed_tokens_are_refused_before_any_lookup(token):
    with pytest.raises(apikeys.KeyRefused) as refused:
        apikeys.verify(token, {}, NOW)
    assert refused.value.reason == "malformed_key"


def test_unknown_wrong_secret_revoked_and_expired():
    token, entry = apikeys.new_key("partner", "acme", "", NOW, expires_at=NOW + timedelta(days=1))
    keys = {entry.id: entry}
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    stranger, _ = apikeys.new_key("operator", None, "", NOW)
    for presented, reason in [(forged, "unknown_key"), (stranger, "unknown_key")]:
        with pytest.raises(apikeys.KeyRefused) as refused:
            apikeys.verify(presented, keys, NOW)
        assert refused.value.reason == reason
    with pytest.raises(apikeys.KeyRefused, match="expired"):
        apikeys.verify(token, keys, NOW + timedelta(days=1))
    revoked = {entry.id: apikeys.ApiKey(**{**entry.__dict__, "revoked_at": NOW.isoformat()})}
    with pytest.raises(apikeys.KeyRefused) as refused:
        apikeys.verify(token, revoked, NOW)
    assert refused.value.reason == "revoked_key"


def test_key_file_is_owner_only_and_edits_are_atomic_and_concurrent(tmp_path):
    path = tmp_path / "keys" / "api-keys.json"
    threads = [threading.Thread(target=apikeys.create, args=(path, "operator", None, f"k{i}", NOW))
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(apikeys.read_keys(path)) == 20  # no edit lost to another
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".keys-")]  # no temporary left


def test_a_service_sees_new_and_revoked_keys_without_a_restart(tmp_path):
    path = tmp_path / "api-keys.json"
    store = apikeys.KeyStore(path)
    assert store.keys() == {}  # no file: no keys (every call refused)
    old, old_entry = apikeys.create(path, "operator", None, "old", NOW)
    assert old_entry.id in store.keys()
    new, new_entry = apikeys.create(path, "operator", None, "new", NOW)
    apikeys.revoke(path, old_entry.id, NOW)
    keys = store.keys()
    assert keys[old_entry.id].revoked_at and apikeys.verify(new, keys, NOW).id == new_entry.id
    path.write_text("{not json")  # a broken edit keeps the last good keys
    assert new_entry.id in store.keys()
    path.unlink()
    assert store.keys() == {}


def test_billing_keys_create_list_revoke(tmp_path, capsys):
    path = tmp_path / "api-keys.json"
    assert main(["keys", "--file", str(path), "create", "--role", "partner", "--account", "acme",
                 "--label", "acme's portal", "--out", str(tmp_path / "acme.key")]) == 0
    token = (tmp_path / "acme.key").read_text().strip()
    assert stat.S_IMODE(os.stat(tmp_path / "acme.key").st_mode) == 0o600
    key_id = token.split("_")[1]
    assert main(["keys", "--file", str(path), "create", "--role", "partner"]) == 2  # no account
    capsys.readouterr()
    assert main(["keys", "--file", str(path), "list"]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and "acme" in listed and "active" in listed and token not in listed
    assert main(["keys", "--file", str(path), "revoke", key_id]) == 0
    assert main(["keys", "--file", str(path), "revoke", "nope"]) == 2
    assert apikeys.read_keys(path)[key_id].status(NOW) == "revoked"


def test_billing_keys_init_makes_the_local_keys_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BILLING_VAR", str(tmp_path / "var"))
    monkeypatch.delenv("BILLING_API_KEYS_FILE", raising=False)
    assert main(["keys", "init"]) == 0
    keys = tmp_path / "var" / "keys"
    operator = (keys / "operator.key").read_text()
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    for name in ("operator.key", "demo-partner.key", "store/api-keys.json"):
        assert stat.S_IMODE(os.stat(keys / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(keys / "store").st_mode) == 0o700
    assert main(["keys", "init"]) == 0  # idempotent: the keys still work, so they are kept
    assert (keys / "operator.key").read_text() == operator
    stored = apikeys.read_keys(keys / "store" / "api-keys.json")
    assert sorted((k.role, k.account_id) for k in stored.values()) == [("operator", None),
                                                                       ("partner", "demo-partner")]
    apikeys.revoke(keys / "store" / "api-keys.json", operator.split("_")[1], NOW)
    assert main(["keys", "init"]) == 0  # a revoked operator key is replaced
    assert (keys / "operator.key").read_text() != operator
