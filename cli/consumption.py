"""Waiting for a service to have applied messages: its consumer group's committed offsets.

A service commits a record's offset only after the handler's transaction committed, so a
committed offset past a record means the record's effects are in the service's schema.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from shared.kafka_security import client_options


async def partitions_of(bootstrap: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of the `topics` that exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described if not t.get("error_code")
            for p in t["partitions"]]


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The next offset of every partition of `topics` (what a caught-up group has committed)."""
    partitions = await partitions_of(bootstrap, topics)
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(),
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def behind(admin: AIOKafkaAdminClient, group: str, wanted: Mapping[TopicPartition, int]) -> list[TopicPartition]:
    """The partitions of `wanted` on which `group` has not committed up to the given offset yet."""
    committed = await admin.list_consumer_group_offsets(group)
    return [tp for tp, off in wanted.items() if tp not in committed or committed[tp].offset < off]


async def wait_consumed(bootstrap: str, group: str, targets: Mapping[TopicPartition, int],
                        timeout: float = 120, what: str = "") -> None:
    """Wait until `group` has committed at least `targets[tp]` on every partition (offsets are
    'next to read': pass the last offset you caused + 1, or an end offset)."""
    wanted = {tp: off for tp, off in targets.items() if off > 0}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            lagging = await behind(admin, group, wanted)
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {group} has not consumed {what or sorted(map(str, lagging))} "
                                   f"within {timeout}s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
