"""Kafka: the broker factory, topic creation, and at-least-once subscribers with an inbox,
a retry budget and a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, Topic as KafkaTopic
from faststream.kafka.annotations import KafkaMessage

from contracts.envelope import Contract, Envelope
from contracts.registry import Topic, dead_letter_topic, parse, redrive_topic
from shared import dead_letters, faults, inbox, metrics, tracing
from shared.dead_letters import Origin
from shared.logging import bound
from shared.kafka_security import KafkaSecurity, client_options
from shared.settings import Settings
from shared.transient import TRANSIENT

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Envelope, Contract], Awaitable[None]]
BatchHandler = Callable[[asyncpg.Connection, list[tuple[Envelope, Contract]]], Awaitable[None]]
Decoder = Callable[[bytes], tuple[Envelope, Contract]]


def make_broker(settings: Settings) -> KafkaBroker:
    # per-message "Received/Processed" lines at DEBUG: at INFO they cost more than the handlers
    return KafkaBroker(settings.kafka_bootstrap_servers, client_id=settings.service,
                       security=KafkaSecurity.from_env().faststream(),
                       enable_idempotence=True, acks="all", log_level=logging.DEBUG,
                       # FastStream's own logger writes coloured text to stdout; this one goes
                       # through the root handler (shared/logging.py: JSON lines)
                       logger=logging.getLogger("faststream.billing"))


async def ensure_topics(bootstrap: str, topics: Sequence[Topic], prefix: str = "",
                        services: Sequence[str] = ()) -> None:
    """Create the registry's topics (and the services' dead-letter topics) where missing, then
    wait until the broker serves them all (`until_led`).

    A principal without CREATE (a service under ACLs: topics are the operator's, made by
    `billing create-topics` as the admin) creates nothing and goes on with the topics it finds.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(prefix + t.name, t.partitions, 1,
                           topic_configs={"retention.ms": str(t.retention_ms)}) for t in topics]
        wanted += [NewTopic(prefix + dead_letter_topic(s), 1, 1) for s in services]
        wanted += [NewTopic(prefix + redrive_topic(s), 1, 1) for s in services]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                response = await admin.create_topics(missing)
            except TopicAlreadyExistsError:  # another process got there first: wait for them too
                response = None
            refused = [name for name, code, *_ in getattr(response, "topic_errors", ())
                       if code == TopicAuthorizationFailedError.errno]
            if refused:
                log.warning("not authorized to create %s: topics are created by `billing create-topics`",
                            ", ".join(refused))
        await until_led(bootstrap, admin, [t.name for t in wanted])
    finally:
        await admin.close()


async def until_led(bootstrap: str, admin: AIOKafkaAdminClient, names: Sequence[str],
                    timeout: float = 30) -> list[str]:
    """Wait until every partition of `names` has a leader that answers; returns the topics still
    waiting after `timeout` (logged, not raised: the clients retry on their own).

    A topic just created (by this process or a sibling starting beside it) is not served at once:
    first the broker's metadata lacks it, then its partitions' leaders refuse offset requests for a
    moment. A consumer subscribing then logs errors ("not found in cluster metadata", "not leader")
    and retries, and a group's assignment may be made without the topic. Topics this principal
    may not describe (ACLs) are not waited for."""
    deadline = time.monotonic() + timeout
    waiting, led = list(names), []
    while waiting:
        described = await admin.describe_topics(waiting)
        ready = [t for t in described if t["error_code"] == 0 and t["partitions"]
                 and all(p["error_code"] == 0 and p["leader"] >= 0 for p in t["partitions"])]
        led += [TopicPartition(t["topic"], p["partition"]) for t in ready for p in t["partitions"]]
        refused = [t for t in described if t["error_code"] == TopicAuthorizationFailedError.errno]
        waiting = sorted(set(waiting) - {t["topic"] for t in ready + refused})
        if waiting and time.monotonic() > deadline:
            log.warning("topics without a leader after %.0f s: %s", timeout, ", ".join(waiting))
            return waiting
        if waiting:
            await asyncio.sleep(0.05)
    if led:  # the leaders answer an offset request (the consumer retries "not leader" quietly)
        # a short backoff: the probe learns of one more topic's metadata at each retry
        probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                 retry_backoff_ms=10, **client_options(),
                                 request_timeout_ms=int(max(1.0, deadline - time.monotonic()) * 1000))
        try:
            await probe.start()
            await probe.end_offsets(led)
        except Exception as exc:  # noqa: BLE001: the clients retry on their own
            log.warning("topics not served after %.0f s: %r", timeout, exc)
            return sorted({tp.topic for tp in led})
        finally:
            await probe.stop()
    return []


class PoisonMessage(Exception):
    """Raised by a handler for input that can never succeed; sent to the dead-letter topic at once."""


def consumer_name(service: str, topic_name: str) -> str:
    """The inbox's and dead letters' name for one service consuming one (registry) topic."""
    return f"{service}:{topic_name}"


def _fault_hook(envelopes) -> None:
    """Fault injection for tests: BILLING_FAIL_EVENT_TYPE=<event type> makes the handling of such
    an event fail (inside its transaction, so nothing is applied) until the process restarts
    without it: a poison message whose cause an operator then removes."""
    wanted = os.environ.get("BILLING_FAIL_EVENT_TYPE")
    if wanted and any(e.type == wanted for e in envelopes):
        raise RuntimeError(f"fault injection: BILLING_FAIL_EVENT_TYPE={wanted}")


def _crash_hook(envelope: Envelope) -> None:
    """Fault injection for tests: BILLING_CRASH_AFTER_COMMIT=<event type> kills the process with
    SIGKILL right after the handler's transaction committed and before the offset commit, once
    (the marker file named by BILLING_CRASH_MARKER records that it happened)."""
    wanted = os.environ.get("BILLING_CRASH_AFTER_COMMIT")
    if not wanted or wanted != envelope.type:
        return
    marker = os.environ.get("BILLING_CRASH_MARKER")
    if marker:
        if os.path.exists(marker):
            return
        with open(marker, "w") as f:
            f.write(str(envelope.event_id))
    log.warning("fault injection: SIGKILL after commit of %s", envelope.event_id)
    os.kill(os.getpid(), signal.SIGKILL)


def _ids(envelope: Envelope) -> tuple:
    """What a log line says about the event being handled (shared/logging.bound)."""
    return envelope.event_id, envelope.correlation_id, envelope.key


def _readable_headers(record):
    """`record` with header values FastStream can decode: it reads each as UTF-8, so a null or
    non-UTF-8 value (legal in Kafka) would fail every delivery and stall the partition. Such a
    value is replaced by its lossy UTF-8 text; the record's key and value are untouched."""
    try:
        for _, value in record.headers:
            value.decode()
        return record
    except (AttributeError, UnicodeDecodeError):
        return replace(record, headers=tuple(
            (name, (value or b"").decode(errors="replace").encode()) for name, value in record.headers))


async def _safe_parser(message, original_parser):
    if isinstance(message, tuple):
        return await original_parser(tuple(_readable_headers(r) for r in message))
    return await original_parser(_readable_headers(message))


async def _no_decoding(message) -> None:
    """FastStream would JSON-decode every body; handlers decode the raw records themselves."""
    return None


@dataclass
class Subscription:
    """One topic consumed by one service: decode, claim in the inbox, handle, all in one transaction."""

    settings: Settings
    broker: KafkaBroker
    pool: asyncpg.Pool
    topic: Topic
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    max_records: int = 500
    # a topic's own decoder (a fast path for one hot contract; it must validate as parse() does)
    decode: Decoder | None = None
    # False: the batch handler is idempotent by itself (usage: by record id) and gets every
    # decoded record, redeliveries included, claiming event ids itself where it needs to
    inbox: bool = True

    def __post_init__(self) -> None:
        # the labelled children, looked up once: a hot path only increments
        name = self.topic.name
        self._consumed, self._applied = metrics.CONSUMED.labels(name), metrics.APPLIED.labels(name)
        self._deduplicated = metrics.DEDUPLICATED.labels(name)
        self._dead_lettered = metrics.DEAD_LETTERED.labels(name)
        self._latency = metrics.HANDLER_SECONDS.labels(name)

    @property
    def consumer(self) -> str:
        return consumer_name(self.settings.service, self.topic.name)

    @property
    def kafka_consumer(self):
        """The subscriber's aiokafka consumer while the broker runs (for consumer lag), else None."""
        return getattr(getattr(self, "_subscriber", None), "consumer", None)

    @property
    def physical_topic(self) -> str:
        return self.settings.topic(self.topic.name)

    @property
    def declared_topic(self) -> KafkaTopic:
        # ensure_topics (or the operator) makes topics with the registry's partitions; FastStream
        # would make missing ones with one, and a service under ACLs may not create any
        return KafkaTopic(self.physical_topic, declare=False)

    def register(self) -> None:
        """Add the FastStream subscriber: its group per service, from the earliest offset,
        committing the offset only after the handler returned (NACK on error rewinds)."""
        common = dict(
            decoder=_no_decoding,
            parser=_safe_parser,
            group_id=f"{self.settings.topic_prefix}{self.settings.service}",
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            # a service's subscribers share one group: members hear of a rebalance at their next
            # heartbeat, so a short interval lets a starting service settle in about a second
            heartbeat_interval_ms=500,
            title=f"{self.settings.service}:{self.topic.name}",
        )
        if self.batch_handler is not None:
            sub = self.broker.subscriber(self.declared_topic, batch=True,
                                         max_records=self.max_records, **common)

            async def on_batch(message: KafkaMessage) -> None:
                await self._on_batch(message)

            sub(on_batch)
            self._subscriber = sub
        else:
            sub = self.broker.subscriber(self.declared_topic, **common)

            async def on_message(message: KafkaMessage) -> None:
                await self._on_record(message.raw_message)

            sub(on_message)
            self._subscriber = sub

    # ---------------------------------------------------------------- one record
    def _decode(self, record) -> tuple[Envelope, Contract]:
        if self.decode is not None:
            return self.decode(record.value)
        envelope = Envelope.decode(record.value)
        return envelope, parse(envelope)

    async def _on_record(self, record, origin: Origin | None = None) -> None:
        """Apply one record (from the topic, or from the redrive topic with its `origin`)."""
        self._consumed.inc()
        await self._handle_record(record, origin)

    async def _handle_record(self, record, origin: Origin | None = None) -> None:
        origin = origin or Origin(self.consumer, record.topic, record.partition, record.offset)
        try:
            envelope, payload = self._decode(record)
        except Exception as exc:
            await self.dead_letter(record, f"undecodable: {exc}", origin)
            return
        with bound(*_ids(envelope)), \
                tracing.consuming(self.topic.name, [record], envelope.event_id):
            await self._attempt(record, envelope, payload, origin)

    async def _attempt(self, record, envelope: Envelope, payload: Contract, origin: Origin) -> None:
        """Apply one decoded record within the retry budget, else dead-letter it."""
        budget = max(1, self.settings.retry_budget)
        for attempt in range(1, budget + 1):
            try:
                await self._apply_one(envelope, payload)
                return
            except PoisonMessage as exc:
                await self.dead_letter(record, f"poison: {exc}", origin, envelope)
                return
            except Exception as exc:
                if attempt == budget and isinstance(exc, TRANSIENT):
                    # the database or the network away is no fault of the message: never dead-lettered
                    # for it (the fault suite restarts PostgreSQL mid-run); raising NACKs it, so it comes
                    # back, a budget at a time, until they are back
                    log.warning("%s: %r after %d attempts; redelivering it", envelope.event_id, exc, attempt)
                    await asyncio.sleep(1)
                    raise
                if attempt == budget:
                    log.exception("giving up on %s after %d attempts", envelope.event_id, attempt)
                    await self.dead_letter(record, f"failed {attempt} times: {exc!r}", origin, envelope)
                    return
                log.warning("attempt %d for %s failed: %r", attempt, envelope.event_id, exc)
                await asyncio.sleep(self.settings.retry_backoff_ms / 1000 * 2 ** (attempt - 1))

    async def _apply_one(self, envelope: Envelope, payload: Contract) -> None:
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            if self.inbox and not await inbox.claim(conn, self.consumer, envelope):
                log.info("skipped duplicate event %s (%s)", envelope.event_id, envelope.type)
                self._deduplicated.inc()
                return
            _fault_hook((envelope,))
            if self.handler is not None:
                await self.handler(conn, envelope, payload)
            else:
                await self.batch_handler(conn, [(envelope, payload)])
            faults.point("before-commit")
        faults.point("after-commit")
        self._applied.inc()
        self._latency.observe(time.perf_counter() - started)
        _crash_hook(envelope)

    # ---------------------------------------------------------------- a batch
    async def _on_batch(self, message: KafkaMessage) -> None:
        records = message.raw_message
        records = records if isinstance(records, tuple) else (records,)
        self._consumed.inc(len(records))
        with tracing.consuming(self.topic.name, records):
            await self._apply_batch(records)

    async def _apply_batch(self, records) -> None:
        decoded, bad = [], []
        for record in records:
            try:
                decoded.append((record, *self._decode(record)))
            except Exception as exc:
                bad.append((record, exc))
        for record, exc in bad:
            await self.dead_letter(record, f"undecodable: {exc}")
        if not decoded:
            return
        started = time.perf_counter()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                new = await inbox.claim_many(conn, self.consumer, [e for _, e, _ in decoded]) if self.inbox else None
                seen, todo = set(), []
                for _, env, payload in decoded:
                    if new is None:
                        todo.append((env, payload))
                    elif env.event_id in new and env.event_id not in seen:
                        seen.add(env.event_id)
                        todo.append((env, payload))
                    else:
                        log.info("skipped duplicate event %s (%s)", env.event_id, env.type)
                if todo:
                    _fault_hook(e for e, _ in todo)
                    # one event's ids on the handler's log lines when the batch holds one
                    with bound(*(_ids(todo[0][0]) if len(todo) == 1 else ())):
                        await self.batch_handler(conn, todo)
                    faults.point("before-commit")
        except Exception as exc:
            # isolate the failing message: replay the batch one record at a time
            log.warning("batch of %d failed (%r); retrying record by record", len(decoded), exc)
            for record, _, _ in decoded:
                await self._handle_record(record)
            return
        faults.point("after-commit")
        self._applied.inc(len(todo))
        self._deduplicated.inc(len(decoded) - len(todo))
        self._latency.observe(time.perf_counter() - started)
        for _, env, _ in decoded:
            _crash_hook(env)

    # ---------------------------------------------------------------- dead letters
    async def dead_letter(self, record, error: str, origin: Origin | None = None,
                          envelope: Envelope | None = None) -> None:
        origin = origin or Origin(self.consumer, record.topic, record.partition, record.offset)
        self._dead_lettered.inc()
        await dead_letters.give_up(self.settings, self.broker, self.pool, record, error, origin, envelope)
