"""`billing portal users add|list|disable`: the portal's users, each with its own partner API key."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

import asyncpg

from cli import http as cli_http
from services.portal import users, vault
from services.portal.app import MIGRATIONS
from services.portal.settings import PortalSettings
from shared import apikeys, db

DEMO_EMAIL = "partner@demo.example"


def register(subparsers) -> None:
    portal = subparsers.add_parser("portal", help="the partner portal's users")
    sub = portal.add_subparsers(dest="portal_command", required=True)
    user_cmd = sub.add_parser("users", help="add, list or disable portal users").add_subparsers(
        dest="users_command", required=True)
    add = user_cmd.add_parser("add", help="a user acting for an account (a new partner API key); prints a "
                                          "one-time password unless --password-stdin")
    add.add_argument("--account", required=True, help="the partner or customer account the user acts for")
    add.add_argument("--email", required=True)
    add.add_argument("--kind", choices=users.KINDS, default="partner",
                     help="partner (sees its tree) or administrator (a customer account's; sees that account)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=run_add)
    listing = user_cmd.add_parser("list", help="every user (no secrets)")
    listing.set_defaults(func=run_list)
    disable = user_cmd.add_parser("disable", help="stop a user signing in and revoke its API key")
    disable.add_argument("--email", required=True)
    disable.set_defaults(func=run_disable)


async def _connect(settings: PortalSettings) -> asyncpg.Connection:
    """A connection on the portal's schema, migrated (the operator's credentials)."""
    base = settings.base
    await db.migrate_dsn(base.database_url, base.db_schema, MIGRATIONS)
    return await asyncpg.connect(base.database_url, server_settings={"search_path": base.db_schema})


async def add_user(account: str, email: str, kind: str, password: str, key_file: Path | None = None,
                   settings: PortalSettings | None = None) -> users.User:
    """Create the user's partner key in the key file, then the user with the key sealed; a refused
    user leaves no key behind."""
    settings = settings or PortalSettings.from_env()
    now = datetime.now(timezone.utc)
    key_file = key_file or cli_http.key_file()
    token, entry = apikeys.create(key_file, "partner", account, f"portal user {users.normal_email(email)}", now)
    try:
        conn = await _connect(settings)
        try:
            return await users.add_user(conn, vault.load(settings.secrets_file), email=email, account_id=account,
                                        kind=kind, password=password, api_key_id=entry.id, api_token=token, now=now)
        finally:
            await conn.close()
    except BaseException:
        apikeys.revoke(key_file, entry.id, now)
        raise


def run_add(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else users.new_password()
    try:
        user = asyncio.run(add_user(args.account, args.email, args.kind, password))
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    print(f"user {user.email} ({user.kind} of {user.account_id}) added", file=sys.stderr)
    if not args.password_stdin:
        print("its one-time password, shown once:", file=sys.stderr)
        print(password)
    return 0


async def _list() -> list[asyncpg.Record]:
    conn = await _connect(PortalSettings.from_env())
    try:
        return await conn.fetch("SELECT email, account_id, kind, api_key_id, created_at, disabled_at "
                                "FROM users ORDER BY email")
    finally:
        await conn.close()


def run_list(_: argparse.Namespace) -> int:
    print(f"{'email':<32} {'account':<20} {'kind':<14} {'key':<17} state")
    for r in asyncio.run(_list()):
        state = "disabled" if r["disabled_at"] else "active"
        print(f"{r['email']:<32} {r['account_id']:<20} {r['kind']:<14} {r['api_key_id']:<17} {state}")
    return 0


async def _disable(email: str) -> str | None:
    conn = await _connect(PortalSettings.from_env())
    try:
        return await conn.fetchval("UPDATE users SET disabled_at = now() WHERE email = $1 AND disabled_at IS NULL "
                                   "RETURNING api_key_id", users.normal_email(email))
    finally:
        await conn.close()


def run_disable(args: argparse.Namespace) -> int:
    key_id = asyncio.run(_disable(args.email))
    if key_id is None:
        print(f"no active user {args.email}", file=sys.stderr)
        return 2
    apikeys.revoke(cli_http.key_file(), key_id, datetime.now(timezone.utc))
    print(f"user {args.email} disabled, key {key_id} revoked")
    return 0


def demo_user(account: str) -> tuple[str, str]:
    """The demo partner's portal sign-in (made once; its password kept in var/keys, 0600)."""
    path = cli_http.keys_dir() / "portal-demo.password"
    if path.exists():
        return DEMO_EMAIL, path.read_text().strip()
    password = users.new_password()
    try:
        asyncio.run(add_user(account, DEMO_EMAIL, "partner", password))
    except users.UserExists:
        return DEMO_EMAIL, "(set before; `billing portal users disable` and add it again)"
    apikeys.write_token(path, password)
    return DEMO_EMAIL, password
