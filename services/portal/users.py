"""Portal users: passwords hashed with Argon2id, each user's API token sealed by the vault."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.portal.vault import Vault

KINDS = ("partner", "administrator")
_hasher = PasswordHasher()  # argon2-cffi's defaults (RFC 9106 low-memory profile)
# verified against when the address is unknown, so a miss costs what a wrong password costs
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))

INSERT_USER = """
INSERT INTO users (user_id, email, account_id, kind, password_hash, api_key_id, api_token, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
BY_EMAIL = "SELECT * FROM users WHERE email = $1 AND disabled_at IS NULL"
BY_ID = "SELECT * FROM users WHERE user_id = $1 AND disabled_at IS NULL"
SET_PASSWORD = "UPDATE users SET password_hash = $2 WHERE user_id = $1"


class UserExists(ValueError):
    pass


@dataclass(frozen=True)
class User:
    """A signed-in user as pages see it (the API token is opened only by clients.api)."""

    user_id: str
    email: str
    account_id: str
    kind: str

    @classmethod
    def of(cls, row: asyncpg.Record) -> "User":
        return cls(row["user_id"], row["email"], row["account_id"], row["kind"])


def normal_email(email: str) -> str:
    return email.strip().lower()


def new_password() -> str:
    """A one-time password for a new user: 128 random bits, easy to copy."""
    return secrets.token_urlsafe(16)


async def add_user(conn: asyncpg.Connection, vault: Vault, *, email: str, account_id: str, kind: str,
                   password: str, api_key_id: str, api_token: str, now: datetime) -> User:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if len(password) < 12:
        raise ValueError("a password has at least 12 characters")
    user_id = "u_" + secrets.token_hex(8)
    hashed = await asyncio.to_thread(_hasher.hash, password)
    try:
        await conn.execute(INSERT_USER, user_id, normal_email(email), account_id, kind, hashed,
                           api_key_id, vault.seal(api_token), now)
    except asyncpg.UniqueViolationError:
        raise UserExists(f"a user {normal_email(email)} exists already") from None
    return User(user_id, normal_email(email), account_id, kind)


async def authenticate(conn: asyncpg.Connection, email: str, password: str) -> User | None:
    """The user with this address and password, else None; the same Argon2 work either way."""
    row = await conn.fetchrow(BY_EMAIL, normal_email(email))
    if not await asyncio.to_thread(_verifies, row["password_hash"] if row else _DUMMY, password):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        await conn.execute(SET_PASSWORD, row["user_id"], _hasher.hash(password))
    return User.of(row)


def _verifies(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def api_token(conn: asyncpg.Connection, vault: Vault, user_id: str) -> str | None:
    row = await conn.fetchrow(BY_ID, user_id)
    return vault.open(row["api_token"]) if row else None
