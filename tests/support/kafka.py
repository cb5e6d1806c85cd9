"""Test helpers on the real broker: publish raw bytes or envelopes, read a topic to the end."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts.envelope import Envelope
from shared.kafka_security import client_options


async def publish(bootstrap: str, topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


async def publish_envelopes(bootstrap: str, topic: str, envelopes: list[Envelope]) -> None:
    await publish(bootstrap, topic, [(e.key, e.encode()) for e in envelopes])


async def read_all(bootstrap: str, topic: str, expect: int, timeout: float = 60):
    """Records of `topic` from the beginning, waiting until at least `expect` arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **client_options(),
                                auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records
