"""API keys: generated with `secrets`, kept only as SHA-256 hashes in a key file every service reads.

A key is `bk_<key id>_<secret>`: the id finds the entry, the secret (256 random bits) is never
stored. SHA-256 suffices for tokens of that entropy (no password stretching needed), and the
comparison is constant-time. The key file is JSON written atomically (temporary file, then
rename) and re-read by the services when it changes, so keys are created and revoked while the
services run: that is how keys rotate without downtime.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from shared.refusal import Refused

log = logging.getLogger(__name__)

ROLES = ("operator", "partner", "integration")
PREFIX = "bk"
# bk_<16 hex>_<43 url-safe base64 chars>; anything much longer is not a key of ours
MAX_TOKEN_LENGTH = 200
_TOKEN = re.compile(r"bk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,150})")


class KeyRefused(Refused):
    """A presented key that does not authenticate; `reason` is the 401 reason code."""

    status = 401


@dataclass(frozen=True)
class ApiKey:
    """One key's entry in the key file (never the secret itself)."""

    id: str
    role: str
    account_id: str | None
    label: str
    created_at: str
    hash: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= now:
            return "expired"
        return "active"


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def new_key(role: str, account_id: str | None, label: str, now: datetime,
            expires_at: datetime | None = None) -> tuple[str, ApiKey]:
    """A fresh key: the token to hand to its holder once, and the entry to store."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "partner" and not account_id:
        raise ValueError("a partner key acts for one partner account: give its account id")
    if role != "partner" and account_id:
        raise ValueError(f"an {role} key acts for no account")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    key_id = secrets.token_hex(8)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    entry = ApiKey(id=key_id, role=role, account_id=account_id, label=label, created_at=now.isoformat(),
                   hash=hash_token(token), expires_at=expires_at.isoformat() if expires_at else None)
    return token, entry


def verify(token: str, keys: dict[str, ApiKey], now: datetime) -> ApiKey:
    """The key `token` presents, or KeyRefused: `malformed_key`, `unknown_key`, `revoked_key`
    or `expired_key` (the last two only once the secret matched, so they reveal nothing)."""
    if len(token) > MAX_TOKEN_LENGTH or not (match := _TOKEN.fullmatch(token)):
        raise KeyRefused("malformed_key", "not a key of this platform (bk_<id>_<secret>)")
    entry = keys.get(match.group(1))
    # hash even for an unknown id, so timing does not tell which ids exist
    presented = hash_token(token)
    if entry is None or not hmac.compare_digest(presented, entry.hash):
        raise KeyRefused("unknown_key", "no such key")
    status = entry.status(now)
    if status != "active":
        raise KeyRefused(f"{status}_key", f"key {entry.id} is {status}")
    return entry


# ------------------------------------------------------------------ the key file
def _parse(text: str) -> dict[str, ApiKey]:
    data = json.loads(text)
    return {k["id"]: ApiKey(**k) for k in data.get("keys", [])}


def read_keys(path: Path) -> dict[str, ApiKey]:
    return _parse(path.read_text()) if path.exists() else {}


def write_keys(path: Path, keys: dict[str, ApiKey]) -> None:
    """Replace the key file atomically, readable by its owner only (0600, directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = json.dumps({"version": 1, "keys": [asdict(k) for k in keys.values()]}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    try:
        with os.fdopen(fd, "w") as f:  # mkstemp creates the file 0600
            f.write(body + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def editing(path: Path):
    """Read, change and write the key file under an exclusive lock (two operators at once)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with os.fdopen(os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys = read_keys(path)
        yield keys
        write_keys(path, keys)


def create(path: Path, role: str, account_id: str | None, label: str, now: datetime,
           expires_at: datetime | None = None) -> tuple[str, ApiKey]:
    token, entry = new_key(role, account_id, label, now, expires_at)
    with editing(path) as keys:
        keys[entry.id] = entry
    return token, entry


def revoke(path: Path, key_id: str, now: datetime) -> ApiKey:
    with editing(path) as keys:
        if key_id not in keys:
            raise KeyError(key_id)
        if keys[key_id].revoked_at is None:
            keys[key_id] = replace(keys[key_id], revoked_at=now.isoformat())
        return keys[key_id]


def write_token(path: Path, token: str) -> None:
    """A key's secret for its holder, in a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)


class KeyStore:
    """The key file as a service sees it: re-read when its identity (inode, size, mtime) changes,
    which also follows a Kubernetes Secret volume's symlink swap. A file that cannot be read
    leaves the last good keys in force (and is logged); a missing file means no keys at all."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._seen: tuple | None = None
        self._keys: dict[str, ApiKey] = {}

    def keys(self) -> dict[str, ApiKey]:
        if self.path is None:
            return {}
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._keys = None, {}
            return self._keys
        seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen != self._seen:
            try:
                self._keys = _parse(self.path.read_text())
                self._seen = seen
            except (OSError, ValueError, TypeError) as exc:
                log.error("key file %s unreadable (%s); keeping the keys last read", self.path, exc)
        return self._keys
