"""Where the tests find Kafka and PostgreSQL: the environment, else testcontainers when a Docker
engine answers, else the project's own deploy/local scripts (started once, left running).

Fixtures connect as the admin (Kafka super user, PostgreSQL admin role): the credentials come from
the environment (KAFKA_SASL_*, DATABASE_PASSWORD...) or, on deploy/local, from the admin.env it
writes. With deploy/local's secrets at hand, services run with their own PostgreSQL roles."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.settings import role_env

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Infra:
    kafka: str
    # with the admin's credentials
    database_url: str
    # deploy/local's credentials folder (postgres-<service>.password...) when it runs this broker
    secrets: Path | None = None

    def roles(self, services) -> dict[str, str]:
        """Environment giving each of `services` its own PostgreSQL role, where deploy/local made it."""
        return role_env(self.database_url, self.secrets, services)

    def role_url(self, role: str) -> str:
        """The database URL without credentials, for `role` (its password goes apart)."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    from shared.settings import database_url, load_local_credentials, local_secrets

    env_kafka, env_db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if env_kafka and env_db:
        yield Infra(env_kafka, database_url(), local_secrets(env_kafka, ROOT))
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:15") as pg:
            url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
            yield Infra(kafka.get_bootstrap_server(), url)
        return
    # no Docker engine: the project's own scripts start a real broker and database on loopback
    subprocess.run([str(ROOT / "deploy/local/infra.sh"), "up"], check=True)
    from shared.settings import DEFAULT_KAFKA

    # its admin credentials, for this process and the services it starts
    load_local_credentials(ROOT)
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA)
    yield Infra(kafka, database_url(), local_secrets(kafka, ROOT))
