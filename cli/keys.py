"""`billing keys create|list|revoke|init`: the operators' API keys, in the hashed key file the
services read (BILLING_API_KEYS_FILE, by default var/keys/store/api-keys.json)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cli import http as cli_http
from shared import apikeys

DEMO_PARTNER = "demo-partner"  # the demo's partner account (cli/demo: namespace + account id)


def register(subparsers) -> None:
    keys = subparsers.add_parser("keys", help="create, list and revoke API keys")
    keys.add_argument("--file", type=Path, default=None,
                      help="the key file (default $BILLING_API_KEYS_FILE or var/keys/store/api-keys.json)")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="create a key; prints the secret once")
    create.add_argument("--role", required=True, choices=apikeys.ROLES)
    create.add_argument("--account", help="the partner account a partner key acts for")
    create.add_argument("--label", default="", help="who or what holds it")
    create.add_argument("--expires-in-days", type=float, help="the key stops working after this many days")
    create.add_argument("--out", type=Path, help="write the secret to this file (0600) instead of printing it")
    create.set_defaults(func=run_create)
    listing = sub.add_parser("list", help="every key with its role, account and state (no secrets)")
    listing.set_defaults(func=run_list)
    revoke = sub.add_parser("revoke", help="revoke a key by its id (services refuse it within a request)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=run_revoke)
    init = sub.add_parser("init", help="make up's keys: the operator's and the demo partner's, in var/keys/")
    init.set_defaults(func=run_init)


def _file(args: argparse.Namespace) -> Path:
    return args.file or cli_http.key_file()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_create(args: argparse.Namespace) -> int:
    expires = _now() + timedelta(days=args.expires_in_days) if args.expires_in_days else None
    try:
        token, entry = apikeys.create(_file(args), args.role, args.account, args.label, _now(), expires)
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    if args.out:
        apikeys.write_token(args.out, token)
        print(f"key {entry.id} ({entry.role}{' for ' + entry.account_id if entry.account_id else ''}) "
              f"written to {args.out}")
    else:
        print(f"key {entry.id} ({entry.role}{' for ' + entry.account_id if entry.account_id else ''}); "
              f"its secret, shown once:", file=sys.stderr)
        print(token)
    return 0


def run_list(args: argparse.Namespace) -> int:
    now = _now()
    print(f"{'id':<17} {'role':<12} {'account':<20} {'state':<8} {'created':<26} {'expires':<26} label")
    for k in apikeys.read_keys(_file(args)).values():
        print(f"{k.id:<17} {k.role:<12} {k.account_id or '-':<20} {k.status(now):<8} {k.created_at[:25]:<26} "
              f"{(k.expires_at or '-')[:25]:<26} {k.label}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    try:
        entry = apikeys.revoke(_file(args), args.key_id, _now())
    except KeyError:
        print(f"no key {args.key_id} in {_file(args)}", file=sys.stderr)
        return 2
    print(f"key {entry.id} revoked at {entry.revoked_at}")
    return 0


def _ensure(store: Path, holder: Path, role: str, account: str | None, label: str) -> str:
    """The key in `holder` if the store still accepts it, else a new one written there."""
    if holder.exists():
        try:
            apikeys.verify(holder.read_text().strip(), apikeys.read_keys(store), _now())
            return f"{holder} (kept)"
        except apikeys.KeyRefused:
            pass
    token, _ = apikeys.create(store, role, account, label, _now())
    apikeys.write_token(holder, token)
    return f"{holder} (new)"


def run_init(args: argparse.Namespace) -> int:
    store = _file(args)
    directory = cli_http.keys_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    operator = _ensure(store, directory / "operator.key", "operator", None, "make up: operator")
    partner = _ensure(store, directory / f"{DEMO_PARTNER}.key", "partner", DEMO_PARTNER,
                      "make up: demo partner")
    print(f"API keys: hashed key file {store}; operator key {operator}; "
          f"demo partner key ({DEMO_PARTNER}) {partner}")
    return 0
