"""Namespaces (a topic and schema prefix) that tests and benchmarks run the platform in."""

from __future__ import annotations

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from shared.kafka_security import client_options


async def drop_namespace(bootstrap: str, database_url: str, prefix: str) -> None:
    """Drop every schema and delete every topic whose name starts with `prefix`."""
    if not prefix:
        raise ValueError("refusing to drop the empty namespace (the platform itself)")
    conn = await asyncpg.connect(database_url)
    try:
        for row in await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", prefix + "%"):
            await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def end_bench(bootstrap: str, database_url: str, prefix: str, processes=(), keep: bool = False) -> None:
    """A bench's end, whatever happened: its service processes stopped, then its topics and schemas
    dropped unless kept (`--keep`)."""
    for proc in processes:
        proc.stop()
    if not keep:
        await drop_namespace(bootstrap, database_url, prefix)
