"""Services as separate processes (for tests and benchmarks): start, wait until ready, stop, kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """`billing serve NAME` in a child process, its output in `log_dir/NAME.log`."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.env, self.log_path = name, env, log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, extra_env: dict[str, str] | None = None, timeout: float = 60) -> "ServiceProcess":
        env = {**os.environ, **self.env, **(extra_env or {})}
        port_var = f"{self.name.upper()}_HTTP_PORT"
        if not env.get(port_var):  # never the platform's own port: tests may run beside `make up`
            env[port_var] = str(free_port())
        self.port = int(env[port_var])
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(self.log_path, "a")
        self._mark = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", self.name],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        began = time.monotonic()
        self.wait_for_log(f"{self.name} started", timeout)
        # the line is logged before the HTTP server binds: a caller may not connect at once
        self.wait_for_port(timeout - (time.monotonic() - began))
        return self

    def wait_for_port(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + max(timeout, 1)
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: nothing listens on port {self.port} within {timeout:.0f}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[self._mark:]

    def problems(self, limit: int = 5) -> list[str]:
        """The last `limit` warnings and errors this start logged (JSON lines), for a failure's
        message; a group's routine rebalancing notices are left out."""
        found = []
        for line in self.log().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if line.startswith("Traceback") or "Error" in line[:80]:
                    found.append(line[:300])
                continue
            if not isinstance(record, dict) or record.get("level") not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            message = str(record.get("message", ""))
            if "Heartbeat failed" in message or "rebalanc" in message:
                continue
            found.append(f"{record.get('time', '')[11:23]} {record['level']} {message[:300]}")
        return found[-limit:]

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: no {text!r} within {timeout}s:\n{self.log()[-3000:]}")

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()
