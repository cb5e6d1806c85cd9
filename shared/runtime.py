"""A service process: pool, migrations, topics, outbox relay, Kafka subscribers and HTTP edge.

Each service's app.py builds one `ServiceRuntime` (its composition root) and calls `run()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import asyncpg
import uvicorn
import uvloop
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contracts import topics as topic_registry
from contracts.registry import Topic
from shared import consumer_lag, db, metrics, tracing
from shared import dead_letter_api
from shared import faults
from shared import clock_api
from shared.clock import Clock, ManualClock, SystemClock
from shared.docs import serve_docs_offline
from shared.kafka import BatchHandler, Decoder, Handler, Subscription, consumer_name, ensure_topics, make_broker
from shared.logging import configure
from shared.outbox import OutboxRelay, make_producer
from shared.periodic import Periodic, run_all
from shared.redrive import register_redrive
from shared.settings import Settings

log = logging.getLogger(__name__)


# a service should run as its own role, owning its schema only
_SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"


class ServiceRuntime:
    """Everything one service process owns; subscriptions and HTTP routes are added before start."""

    def __init__(self, settings: Settings, migrations: Path | None, clock: Clock | None = None) -> None:
        self.settings = settings
        self.migrations = migrations
        faults.arm(settings.service)  # BILLING_FAULT names the service it kills
        self.clock: Clock = clock or _clock(settings)
        self.broker = make_broker(settings)
        self.pool: asyncpg.Pool | None = None
        self.producer = None  # created in start(): aiokafka needs the running loop
        self.relay: OutboxRelay | None = None
        self._subscriptions: list[tuple[Topic, Handler | None, BatchHandler | None, int, dict]] = []
        self._background: list[Callable[["ServiceRuntime"], asyncio.Task]] = []
        self._tasks: list[asyncio.Task] = []
        self._periodics: list[Periodic] = []  # what a move of a manual clock wakes (clock_api)

    def topic(self, topic: Topic) -> str:
        return self.settings.topic(topic.name)

    @property
    def consumers(self) -> set[str]:
        """The inbox consumer names of this service's subscriptions (what a dead letter can go back to)."""
        return {consumer_name(self.settings.service, topic.name) for topic, *_ in self._subscriptions}

    def subscribe(self, topic: Topic, handler: Handler) -> None:
        self._subscriptions.append((topic, handler, None, 1, {}))

    def subscribe_batch(self, topic: Topic, handler: BatchHandler, max_records: int = 500, *,
                        decode: Decoder | None = None, inbox: bool = True) -> None:
        """`decode`: the topic's own decoder of a record's value (see Subscription); `inbox=False`:
        the handler is idempotent by itself and claims event ids only where it needs to."""
        self._subscriptions.append((topic, None, handler, max_records, {"decode": decode, "inbox": inbox}))

    def background(self, start: Callable[["ServiceRuntime"], asyncio.Task]) -> None:
        """A task started with the service (a scheduler, say) and cancelled when it stops."""
        self._background.append(start)

    def periodic(self, name: str, tick: Callable[[asyncpg.Connection, Settings, datetime], Awaitable[object]],
                 interval: float, *, report: bool = False) -> None:
        """Run `tick(conn, settings, now)` with the service, on a pooled connection and the injected
        clock, every `interval` seconds and again after `interval` when it fails (shared/periodic.py)."""
        async def once() -> object:
            async with self.pool.acquire() as conn:
                return await tick(conn, self.settings, self.clock.now())

        task = Periodic(name, once, interval, report=report)
        self._periodics.append(task)
        self.background(lambda rt: asyncio.create_task(task.run(), name=name))

    def workers(self, name: str, tick: Callable[[asyncpg.Pool, Settings, datetime], Awaitable[object]],
                count: int, interval: float, *, busy: Callable[[object], bool], channel: str) -> None:
        """Run `count` copies of `tick(pool, settings, now)` with the service: again at once while
        `busy(result)`, else after `interval` seconds or at a NOTIFY on `channel` (in this service's
        schema), whichever comes first, and after `interval` when a tick fails."""
        def start(rt: "ServiceRuntime") -> asyncio.Task:
            async def once() -> object:
                return await tick(rt.pool, rt.settings, rt.clock.now())

            tasks = [Periodic(name, once, interval, busy=busy) for _ in range(count)]
            rt._periodics.extend(tasks)
            return asyncio.create_task(run_all(tasks, rt.pool, f"{rt.settings.db_schema}_{channel}"), name=name)

        self.background(start)

    async def move_clock(self, at: datetime) -> list[str]:
        """Move the manual clock forward to `at`, then run one pass of every periodic task at
        once and wait for it and for the outbox to be relayed (the work due up to `at` is done
        here, and its events are on Kafka, when this returns). Returns the names of the tasks
        whose pass failed. Raises clock_api.NotManual on the system clock,
        shared.clock.ClockBackwards before the current instant."""
        if not isinstance(self.clock, ManualClock):
            raise clock_api.NotManual("this service runs on the system clock (BILLING_CLOCK=system)")
        self.clock.move_to(at)
        passed = await asyncio.gather(*(task.pass_now() for task in self._periodics))
        failed = sorted({task.name for task, ok in zip(self._periodics, passed) if not ok})
        # and what they wrote has left: a caller waiting on Kafka offsets next sees all of it
        if self.relay is not None and not await self.relay.flush():
            failed.append("outbox relay")
        return failed

    async def start(self) -> None:
        s = self.settings
        await db.migrate_dsn(s.database_url, s.db_schema, self.migrations)
        self.pool = await db.create_pool(s.database_url, s.db_schema, s.pool_min, s.pool_max)
        if await self.pool.fetchval(_SUPERUSER):
            log.warning("%s connects to PostgreSQL as a superuser: give it its own role (README, Security)",
                        s.service)
        await ensure_topics(s.kafka_bootstrap_servers, topic_registry.ALL, s.topic_prefix, [s.service])
        self.producer = make_producer(s.kafka_bootstrap_servers, f"{s.service}-relay")
        await self.producer.start()
        self.relay = OutboxRelay(self.pool, self.producer, s.db_schema, s.relay_batch, s.relay_idle_ms)
        await self.relay.start()
        subscriptions = [Subscription(s, self.broker, self.pool, topic, handler, batch_handler, max_records, **extra)
                         for topic, handler, batch_handler, max_records, extra in self._subscriptions]
        for subscription in subscriptions:
            subscription.register()
        if subscriptions:
            register_redrive(s, self.broker, self.pool, subscriptions)
        await self.broker.start()
        self._tasks = [start(self) for start in self._background]
        if subscriptions:
            self._tasks.append(asyncio.create_task(consumer_lag.run(subscriptions), name="consumer lag"))
        log.info("%s started (schema %s)", s.service, s.db_schema)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.broker.stop()
        if self.relay:
            await self.relay.stop()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()
        if self.pool:
            await self.pool.close()
        tracing.shutdown()

    async def serve(self, http: FastAPI | None = None) -> None:
        """Run until SIGTERM/SIGINT; with `http`, also serve it on the configured port."""
        configure(self.settings.service)
        tracing.configure(self.settings.service)
        await self.start()
        try:
            if http is not None:
                add_platform_routes(http, self.settings.service)
                config = uvicorn.Config(http, host=self.settings.http_host, port=self.settings.http_port,
                                        log_level="warning", lifespan="off")
                await uvicorn.Server(config).serve()
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
                await stop.wait()
        finally:
            await self.stop()


ASYNCAPI = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.json"


def _clock(settings: Settings) -> Clock:
    tuning = settings.tuning
    return ManualClock(tuning.clock_start) if tuning.clock == "manual" else SystemClock()


def add_platform_routes(http: FastAPI, service: str | None = None) -> None:
    """Every service's HTTP edge also serves the platform's AsyncAPI document, its dead letters, its
    clock (moved by hand when it is manual), API docs whose assets come from the service itself,
    its Prometheus metrics at /metrics, and server spans when tracing is on."""
    if any(getattr(r, "path", None) == "/asyncapi.json" for r in http.routes):
        return
    metrics.install(http, service)
    tracing.instrument_http(http)
    http.include_router(dead_letter_api.router)
    http.include_router(clock_api.router)
    serve_docs_offline(http)

    async def asyncapi() -> JSONResponse:
        return JSONResponse(json.loads(ASYNCAPI.read_text()))

    http.add_api_route("/asyncapi.json", asyncapi, methods=["GET"], include_in_schema=False)


def run(runtime: ServiceRuntime, http: FastAPI | None = None) -> None:
    """Serve on uvloop (asyncpg's and uvicorn's fast event loop). The garbage collector leaves
    the objects made at start-up alone (gc.freeze) and runs its youngest generation every
    50,000 allocations instead of 700: a batch of events allocates far more than 700 objects,
    almost none of them in cycles."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    uvloop.run(runtime.serve(http))
