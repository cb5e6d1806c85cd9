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
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
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


async def group_report(admin: AIOKafkaAdminClient, group: str, wanted: Mapping[TopicPartition, int],
                       lagging: Iterable[TopicPartition], limit: int = 6) -> str:
    """Why a wait failed, in a line: each lagging partition's committed offset against the one
    wanted and the member holding it, then the group's state and members (a partition no member
    holds is never consumed; one held but not moving is a stuck consumer)."""
    try:
        committed = await admin.list_consumer_group_offsets(group)
        [response, *_] = await admin.describe_consumer_groups([group])
        described = response.to_object()["groups"][0]
    except Exception as exc:  # a report must not hide the timeout it explains
        return f"(group {group} not described: {exc!r})"
    holders = {}
    for member in described["members"]:
        if member["member_assignment"]:
            for tp in ConsumerProtocolMemberAssignment.decode(member["member_assignment"]).partitions():
                # "<client id>-<uuid>": the uuid's first group tells the members apart
                holders[tp] = member["member_id"][:len(member["client_id"]) + 9]
    lagging = sorted(lagging)
    parts = [f"{tp.topic}[{tp.partition}] at {committed[tp].offset if tp in committed else 'none'} of "
             f"{wanted[tp]}, held by {holders.get(tp, 'no member')}" for tp in lagging[:limit]]
    if len(lagging) > limit:
        parts.append(f"and {len(lagging) - limit} more")
    return (f"{'; '.join(parts)}; group {described['state']} with {len(described['members'])} members, "
            f"{len(holders)} partitions assigned")


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
                raise TimeoutError(f"group {group} has not consumed {what or 'the records wanted'} within "
                                   f"{timeout:.1f}s: {await group_report(admin, group, wanted, lagging)}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
