"""PostgreSQL access: a pool bound to one service schema, and forward-only SQL migrations."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import asyncpg
import orjson

log = logging.getLogger(__name__)

KIT_MIGRATIONS = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# one migrator at a time per schema, across replicas starting together
_MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('migrate:' || $1))"

_RECORD_TABLE = """
CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version    text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def check_schema_name(schema: str) -> str:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def _json_text(value) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json and jsonb columns come back as Python objects. json's binary form is its text, so its
    # codec is a binary one: binary COPY (outbox headers, invoice lines) can write json columns
    await conn.set_type_codec("json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog",
                              format="binary")
    await conn.set_type_codec("jsonb", encoder=_json_text, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(dsn: str, schema: str, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see only `schema` (then `public`) on their search path."""
    check_schema_name(schema)
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": schema, "application_name": schema},
    )


def _files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    return [(f"{prefix}{p.stem}", p) for p in sorted(directory.glob("*.sql"))]


async def migrate(conn: asyncpg.Connection, schema: str, directory: Path | None) -> list[str]:
    """Apply the kit's then the service's numbered .sql files not yet recorded; returns those applied.

    All pending files run in one transaction with their record rows, under a per-schema advisory
    lock: replicas starting together migrate once, and a failing file leaves no trace.
    """
    check_schema_name(schema)
    files = _files(KIT_MIGRATIONS, "kit:")
    if directory is not None:
        files += _files(directory, "")
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute(_MIGRATION_LOCK, schema)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(_RECORD_TABLE.format(schema=schema))
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
        for version, path in files:
            if version in done:
                continue
            await conn.execute(f"SET LOCAL search_path TO {schema}")
            await conn.execute(path.read_text())
            await conn.execute(f"INSERT INTO {schema}.schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
            log.info("migrated %s: %s", schema, version)
    return applied


async def migrate_dsn(dsn: str, schema: str, directory: Path | None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, schema, directory)
    finally:
        await conn.close()
