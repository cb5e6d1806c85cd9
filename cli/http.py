"""The one place the CLI builds its HTTP clients: every call carries the operator's API key."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def var_dir() -> Path:
    return Path(os.environ.get("BILLING_VAR") or ROOT / "var")


def keys_dir() -> Path:
    """Where `make up` keeps the key file and the keys it made (0700)."""
    return var_dir() / "keys"


def key_file() -> Path:
    """The hashed key store the local services read (BILLING_API_KEYS_FILE)."""
    return Path(os.environ.get("BILLING_API_KEYS_FILE") or keys_dir() / "store" / "api-keys.json")


def api_key() -> str | None:
    """$BILLING_API_KEY, else the operator key `make up` wrote in var/keys/operator.key."""
    if os.environ.get("BILLING_API_KEY"):
        return os.environ["BILLING_API_KEY"].strip()
    path = keys_dir() / "operator.key"
    return path.read_text().strip() if path.exists() else None


def headers(key: str | None = None) -> dict[str, str]:
    key = key or api_key()
    return {"Authorization": f"Bearer {key}"} if key else {}


def client(base_url: str = "", key: str | None = None, timeout: float = 30) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers(key))


def async_client(base_url: str = "", key: str | None = None, timeout: float = 30) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, headers=headers(key))
