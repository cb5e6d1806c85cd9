"""Settings read from the environment, with defaults that match deploy/local."""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql://billing@127.0.0.1:55432/billing"
DEFAULT_KAFKA = "127.0.0.1:9092"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def secret(env: Mapping[str, str], name: str) -> str:
    """`name` from the environment, else the content of the file `<name>_FILE` names (a mounted
    Kubernetes or Docker secret), trailing newline removed; empty when neither is set."""
    if env.get(name):
        return env[name]
    path = env.get(f"{name}_FILE")
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    except OSError as exc:
        raise ValueError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from exc


def database_url(service: str = "", env: Mapping[str, str] | None = None) -> str:
    """The PostgreSQL URL a process connects with, credentials included.

    `<SERVICE>_DATABASE_URL` (with `<SERVICE>_DATABASE_USER`, `<SERVICE>_DATABASE_PASSWORD` or
    `..._PASSWORD_FILE`) when set, else `DATABASE_URL` (with `DATABASE_USER`, `DATABASE_PASSWORD` or
    `DATABASE_PASSWORD_FILE`). A user or password given apart replaces the URL's own, so the URL
    can stay in a ConfigMap and the password in a Secret.
    """
    env = os.environ if env is None else env
    prefix = f"{service.upper()}_" if service and env.get(f"{service.upper()}_DATABASE_URL") else ""
    url = env.get(f"{prefix}DATABASE_URL") or DEFAULT_DATABASE_URL
    user, password = env.get(f"{prefix}DATABASE_USER", ""), secret(env, f"{prefix}DATABASE_PASSWORD")
    if not user and not password:
        return url
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    raw_user, _, raw_password = userinfo.partition(":")
    user = quote(user, safe="") if user else raw_user
    password = quote(password, safe="") if password else raw_password
    netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def load_local_credentials(root: Path, env: MutableMapping[str, str] | None = None) -> Path | None:
    """When the environment names no broker and no database of its own (the defaults: the platform
    deploy/local runs), take their admin credentials from `$BILLING_VAR/secrets/admin.env`, which
    deploy/local/infra.sh writes. Returns the file read, if any; variables already set win."""
    env = os.environ if env is None else env
    if env.get("KAFKA_BOOTSTRAP_SERVERS") or env.get("DATABASE_URL"):
        return None
    path = Path(env.get("BILLING_VAR") or root / "var") / "secrets" / "admin.env"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            env.setdefault(name.strip(), value.strip())
    return path


def local_secrets(kafka: str, root: Path, env: Mapping[str, str] | None = None) -> Path | None:
    """deploy/local's credentials folder (`$BILLING_VAR/secrets`), if its admin.env names `kafka`."""
    env = os.environ if env is None else env
    folder = Path(env.get("BILLING_VAR") or root / "var") / "secrets"
    try:
        return folder if f"KAFKA_BOOTSTRAP_SERVERS={kafka}\n" in (folder / "admin.env").read_text() else None
    except OSError:
        return None


def role_env(url: str, secrets: Path | None, services: Sequence[str]) -> dict[str, str]:
    """Environment that gives each of `services` its own PostgreSQL role (`<SERVICE>_DATABASE_URL`,
    `..._PASSWORD_FILE`) where `secrets` holds its password, while the shared DATABASE_URL (the
    admin's, for the caller) stays."""
    parts, out = urlsplit(url), {}
    host = parts.netloc.rpartition("@")[2]
    for service in services:
        password = secrets / f"postgres-{service}.password" if secrets else None
        if password and password.exists():
            out[f"{service.upper()}_DATABASE_URL"] = urlunsplit(parts._replace(netloc=f"{service}@{host}"))
            out[f"{service.upper()}_DATABASE_PASSWORD_FILE"] = str(password)
    return out


class SettingsError(ValueError):
    """A setting the environment gives a value it cannot have: the service does not start."""


class Tuning(BaseModel):
    """The background tasks' knobs, each from its `BILLING_<NAME>` environment variable (README
    "Configuration"), typed and checked when the settings are read (`from_env`); built directly
    (`Tuning.model_validate({...})`, tests), it ignores the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scheduler_ms: PositiveInt = Field(10_000, description="invoicing: how often due billing runs are requested")
    overdue_ms: PositiveInt = Field(60_000, description="invoicing: how often unpaid invoices past due are "
                                                        "marked overdue")
    pending_expiry_ms: PositiveInt = Field(60_000, description="invoicing: how often charges waiting for an "
                                                               "unknown account are checked for expiry")
    pending_charges_ttl_hours: PositiveFloat = Field(24, description="invoicing: how long charges wait for an "
                                                                     "unknown account before quarantine")
    dispute_overdue_ms: PositiveInt = Field(60_000, description="disputes: how often open disputes past their "
                                                                "deadline are marked overdue")
    metering_interval_s: PositiveFloat = Field(60, description="auto_provisioning: how often user counts are "
                                                               "reported")
    pending_facts_s: PositiveFloat = Field(86_400, description="rating: how long a fact naming an unknown "
                                                               "account or product is held before rejection")
    pending_sweep_s: PositiveFloat = Field(5, description="rating: how often held facts are retried")
    run_chunk: PositiveInt = Field(2000, description="rating: accounts per run chunk (one transaction)")
    run_workers: PositiveInt = Field(2, description="rating: run workers per process")
    prepaid_midnights_s: PositiveFloat = Field(5, description="rating: how often prepaid accounts' passed "
                                                              "midnights are looked for (their usage debits)")
    prepaid_expiry_s: PositiveFloat = Field(5, description="prepaid_credit: how often lots past their expiry "
                                                           "are looked for")
    clock: Literal["system", "manual"] = Field("system", description="the service clock: the system's, or a "
                                               "manual one moved by `PUT /v1/ops/clock` (scenario replays)")
    clock_start: AwareDatetime = Field(datetime(2000, 1, 1, tzinfo=timezone.utc),
                                       description="the manual clock's instant when the service starts")

    @classmethod
    def from_env(cls) -> "Tuning":
        """Read from the environment (an empty variable keeps the default); a bad value raises
        SettingsError naming the variable, its value and what it must be."""
        try:
            return _TuningFromEnv()
        except ValidationError as exc:
            problems = "; ".join(f"BILLING_{str(e['loc'][0]).upper()}={e['input']!r}: {e['msg']}"
                                 for e in exc.errors())
            raise SettingsError(f"invalid settings: {problems}") from None


class _TuningFromEnv(BaseSettings, Tuning):
    """The same fields, read by pydantic-settings from `BILLING_<FIELD>` (any case)."""

    model_config = SettingsConfigDict(env_prefix="BILLING_", env_ignore_empty=True, frozen=True, extra="ignore")


@dataclass(frozen=True)
class Settings:
    """One service's settings. `service` names its schema, consumer group and producer id."""

    service: str
    database_url: str = DEFAULT_DATABASE_URL
    kafka_bootstrap_servers: str = DEFAULT_KAFKA
    # prefixes every topic name: tests and replays isolate themselves with it
    topic_prefix: str = ""
    # the schema this service owns; defaults to the service name
    schema: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 0
    retry_budget: int = 3
    retry_backoff_ms: int = 200
    pool_min: int = 1
    pool_max: int = 10
    relay_batch: int = 1000
    relay_idle_ms: int = 500
    # the API keys' hashes (shared/apikeys.py); empty: every HTTP call is refused
    api_keys_file: str = ""
    # the background tasks' knobs (defaults unless given: tests pass their own)
    tuning: Tuning = field(default_factory=Tuning)

    @property
    def db_schema(self) -> str:
        return self.schema or self.service

    @classmethod
    def from_env(cls, service: str, http_port: int = 0) -> "Settings":
        env = os.environ
        return cls(
            service=service,
            database_url=database_url(service, env),
            kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA),
            topic_prefix=env.get("BILLING_TOPIC_PREFIX", ""),
            schema=env.get(f"{service.upper()}_SCHEMA", env.get("BILLING_SCHEMA_PREFIX", "") + service),
            http_host=env.get("HTTP_HOST", "127.0.0.1"),
            http_port=_int(f"{service.upper()}_HTTP_PORT", http_port),
            retry_budget=_int("BILLING_RETRY_BUDGET", 3),
            retry_backoff_ms=_int("BILLING_RETRY_BACKOFF_MS", 200),
            pool_min=_int("BILLING_POOL_MIN", 1),
            pool_max=_int("BILLING_POOL_MAX", 10),
            relay_batch=_int("BILLING_RELAY_BATCH", 1000),
            relay_idle_ms=_int("BILLING_RELAY_IDLE_MS", 500),
            api_keys_file=env.get("BILLING_API_KEYS_FILE", ""),
            tuning=Tuning.from_env(),
        )

    def topic(self, name: str) -> str:
        """The physical topic name for a registry topic name."""
        return f"{self.topic_prefix}{name}"
