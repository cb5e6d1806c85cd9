"""The services of one fault, as processes in a namespace of their own: started (the target with
BILLING_FAULT), watched (a killed one is started again without it), reached over HTTP."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from cli import http as cli_http
from cli.consumption import end_offsets, wait_consumed
from cli.processes import ServiceProcess
from contracts import topics
from shared.kafka_security import client_options
from shared.settings import database_url, local_secrets, role_env


def consumed(service: str) -> list[str]:
    """The registry topics `service` consumes."""
    return [t.name for t in topics.ALL if service in t.consumers]


class Platform:
    def __init__(self, prefix: str, services: tuple[str, ...], log_dir: Path, api_key: str, keys_file: Path) -> None:
        self.prefix, self.services, self.api_key = prefix, services, api_key
        self.kafka = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        self.database = database_url()
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.kafka, "DATABASE_URL": self.database,
               "BILLING_TOPIC_PREFIX": prefix, "BILLING_SCHEMA_PREFIX": prefix,
               "BILLING_API_KEYS_FILE": str(keys_file),
               "BILLING_SCHEDULER_MS": "3600000",   # the suite requests its run itself
               "BILLING_RUN_CHUNK": "4",            # a run of many chunks: room for a kill mid-run
               "BILLING_RELAY_IDLE_MS": "100", "BILLING_RETRY_BACKOFF_MS": "50"}
        env |= role_env(self.database, local_secrets(self.kafka, Path(__file__).resolve().parents[2]), services)
        self.procs = {name: ServiceProcess(name, env, log_dir) for name in services}
        self.exits: list[tuple[str, int]] = []  # (service, exit code) of every death seen
        self._watcher: asyncio.Task | None = None

    async def start(self, fault_service: str = "", fault_env: str = "") -> None:
        # side by side: each waits mostly on its own migrations and Kafka group join
        await asyncio.gather(*(asyncio.to_thread(proc.start, {"BILLING_FAULT": fault_env}
                                                 if name == fault_service and fault_env else {}, 180)
                               for name, proc in self.procs.items()))
        self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Start again, without the fault, any service that died (the fault fired)."""
        while True:
            for name, proc in self.procs.items():
                code = proc.proc.poll() if proc.proc else None
                if code is not None:
                    self.exits.append((name, code))
                    proc.stop()  # closes its log handle
                    try:
                        await asyncio.to_thread(proc.start, {}, 120)
                    except (RuntimeError, TimeoutError):  # e.g. PostgreSQL restarting: next round
                        pass
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._watcher:
            self._watcher.cancel()
        for proc in self.procs.values():
            await asyncio.to_thread(proc.stop)

    async def stop_one(self, name: str) -> None:
        """Stop `name` cleanly, leaving it stopped until `start_one` (the watcher skips it)."""
        self._watcher.cancel()
        await asyncio.to_thread(self.procs[name].stop)

    async def start_one(self, name: str, fault_env: str = "") -> None:
        """Start `name` again (with BILLING_FAULT=`fault_env` if given) and watch it again."""
        await asyncio.to_thread(self.procs[name].start, {"BILLING_FAULT": fault_env} if fault_env else {}, 120)
        self._watcher = asyncio.create_task(self._watch())

    # ------------------------------------------------------------------ Kafka
    def topic(self, name: str) -> str:
        return self.prefix + name

    async def publish(self, topic: str, records: list[tuple[str, bytes]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka, **client_options(), enable_idempotence=True,
                                    linger_ms=10)
        await producer.start()
        try:
            sent = [await producer.send(self.topic(topic), value, key=key.encode()) for key, value in records]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def wait_consumed(self, service: str, timeout: float = 180) -> None:
        """Until `service`'s group has committed the end of every topic it consumes."""
        names = [self.topic(t) for t in consumed(service)]
        await wait_consumed(self.kafka, self.prefix + service, await end_offsets(self.kafka, names), timeout,
                            f"{service}'s topics")

    async def quiesce(self, db, timeout: float = 180) -> None:
        """Until every service consumed every topic it reads and every outbox is empty, twice in a
        row (a relay's last batch may start a consumer's work)."""
        calm = 0
        deadline = time.monotonic() + timeout
        while calm < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("the platform did not settle")
            for name in self.services:
                await self.wait_consumed(name, max(1.0, deadline - time.monotonic()))
            left = [await db.fetchval(f'SELECT count(*) FROM "{self.prefix}{name}".outbox') for name in self.services]
            calm = calm + 1 if not any(left) else 0
            await asyncio.sleep(0.3)

    # ------------------------------------------------------------------ HTTP
    async def call(self, service: str, method: str, path: str, timeout: float = 120, **kwargs) -> httpx.Response:
        """One request to `service`, retried while it is down or restarting (its port changes)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                async with cli_http.async_client(self.procs[service].url, key=self.api_key, timeout=10) as http:
                    response = await http.request(method, path, **kwargs)
                if response.status_code < 500:
                    return response
            except (httpx.TransportError, AttributeError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} {method} {path}: no answer within {timeout}s")
            await asyncio.sleep(0.3)
