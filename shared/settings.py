"""Settings read from the environment, with defaults that match deploy/local."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "postgresql://billing@127.0.0.1:55432/billing"
DEFAULT_KAFKA = "127.0.0.1:9092"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


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
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def db_schema(self) -> str:
        return self.schema or self.service

    @classmethod
    def from_env(cls, service: str, http_port: int = 0) -> "Settings":
        env = os.environ
        return cls(
            service=service,
            database_url=env.get("DATABASE_URL", DEFAULT_DATABASE_URL),
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
            extra={k: v for k, v in env.items() if k.startswith("BILLING_")},
        )

    def topic(self, name: str) -> str:
        """The physical topic name for a registry topic name."""
        return f"{self.topic_prefix}{name}"
