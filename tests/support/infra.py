"""Where the tests find Kafka and PostgreSQL: the environment, else testcontainers when a Docker
engine answers, else the project's own deploy/local scripts (started once, left running)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Infra:
    kafka: str
    database_url: str


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def infrastructure() -> Iterator[Infra]:
    env_kafka, env_db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if env_kafka and env_db:
        yield Infra(env_kafka, env_db)
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
    from shared.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA

    yield Infra(env_kafka or DEFAULT_KAFKA, env_db or DEFAULT_DATABASE_URL)
