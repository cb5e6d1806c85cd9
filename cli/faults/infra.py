"""The fault suite's own Kafka and PostgreSQL (deploy/local/infra.sh on ports and a var folder of
their own, so restarting them never disturbs `make up` or the tests), or the caller's, untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cli.processes import ROOT


@dataclass
class OwnInfra:
    """deploy/local/infra.sh with BILLING_VAR=`var` and the given ports; `restartable` is False
    for infrastructure the suite did not start (the environment's), which it never restarts."""

    var: Path
    kafka_port: int = 19092
    controller_port: int = 19093
    pg_port: int = 56432
    restartable: bool = True

    def __post_init__(self) -> None:
        self.var = Path(self.var).resolve()  # infra.sh names PostgreSQL's socket folder by it

    def _env(self) -> dict[str, str]:
        return {**os.environ, "BILLING_VAR": str(self.var), "KAFKA_PORT": str(self.kafka_port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port), "PG_PORT": str(self.pg_port)}

    def _script(self, command: str) -> None:
        done = subprocess.run([str(ROOT / "deploy/local/infra.sh"), command], env=self._env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise RuntimeError(f"deploy/local/infra.sh {command} failed:\n{done.stderr}")

    def up(self) -> None:
        """Start both (a no-op for what runs) and take their admin credentials into this process,
        replacing any other broker's or database's: the services it starts inherit them."""
        self._script("up")
        for line in (self.var / "secrets" / "admin.env").read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.startswith("#"):
                os.environ[name.strip()] = value.strip()
        os.environ["BILLING_VAR"] = str(self.var)  # local_secrets: the services' own roles

    def down(self) -> None:
        self._script("down")

    def restart_kafka(self, pause: float = 2.0) -> None:
        """SIGKILL the broker (a crash, not a clean stop), wait `pause` s, start it again."""
        pid = int((self.var / "kafka" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
        time.sleep(pause)
        self._script("up")

    def restart_postgres(self, pause: float = 2.0) -> None:
        """Stop PostgreSQL (fast shutdown: every connection cut), wait `pause` s, start it again."""
        self._script("postgres-down")
        time.sleep(pause)
        self._script("postgres-up")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def from_environment() -> OwnInfra:
    """The broker and database the environment names (the test suite's): never restarted."""
    return OwnInfra(Path(os.environ.get("BILLING_VAR") or ROOT / "var"), restartable=False)
