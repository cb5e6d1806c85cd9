"""The portal's two secrets (session signing, API token encryption), in one 0600 file made once."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


@dataclass(frozen=True)
class Vault:
    """`session_key` signs session cookies; `fernet` encrypts users' API tokens at rest, so a copy
    of the database alone (a backup, a replica) holds no usable key."""

    session_key: str
    fernet: Fernet

    def seal(self, token: str) -> bytes:
        return self.fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self.fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken:
            raise ValueError("an API token sealed with another portal key") from None


def load(path: Path) -> Vault:
    """The vault in `path`, written first (0600, directory 0700) when missing. O_EXCL makes two
    processes starting together agree: the loser reads the winner's file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = {"session_key": secrets.token_urlsafe(32), "fernet_key": Fernet.generate_key().decode()}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f)
    data = json.loads(path.read_text())
    base64.urlsafe_b64decode(data["fernet_key"])  # a damaged file fails here, at start
    return Vault(data["session_key"], Fernet(data["fernet_key"].encode()))
