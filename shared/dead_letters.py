"""Dead letters: record what a consumer gave up on; list, show, redrive (once) or discard them."""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from faststream.kafka import KafkaBroker

from contracts.envelope import Envelope
from contracts.registry import dead_letter_topic
from shared import outbox, refusal
from shared.settings import Settings

log = logging.getLogger(__name__)

MAX_ERROR = 4000
MAX_JSON_DEPTH = 64
MAX_NAME = 300
# the outbox row's event type when the message never decoded (it has no envelope to name one)
UNDECODED_TYPE = "dead_letter.redrive"

# ON CONFLICT DO NOTHING: a redelivered record (its offset commit lost) is recorded once, by the
# unique delivery index (consumer, topic, partition, offset, redrive_of)
RECORD = """
INSERT INTO dead_letters (consumer, topic, partition, "offset", key, payload, error,
                          event_id, event_type, redrive_of)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING id
"""

_COLUMNS = """id, consumer, topic, partition, "offset", key, event_id, event_type, error, recorded_at,
state, state_at, state_by, note, redrive_of, octet_length(payload) AS payload_bytes"""

# newest first; `before` is the keyset cursor (the last id of the previous page)
LIST = f"""
SELECT {_COLUMNS} FROM dead_letters
WHERE ($1::text IS NULL OR state = $1)
  AND ($2::text[] IS NULL OR topic = ANY($2))
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC LIMIT $4
"""

SHOW = f"SELECT {_COLUMNS}, payload FROM dead_letters WHERE id = $1"

# what became of a redrive: a later failure points back at it; a success claimed the event id
RETRIED_AS = "SELECT id FROM dead_letters WHERE redrive_of = $1 ORDER BY id"
APPLIED_AT = "SELECT processed_at FROM inbox WHERE consumer = $1 AND event_id = $2"

# the row lock serialises concurrent redrives and discards of one dead letter: the second
# waits, then reads the first one's state and is refused
LOCK = 'SELECT id, consumer, topic, partition, "offset", key, payload, event_id, event_type, state ' \
       "FROM dead_letters WHERE id = $1 FOR UPDATE"

SET_STATE = "UPDATE dead_letters SET state = $2, state_at = $3, state_by = $4, note = $5 WHERE id = $1"


@dataclass(frozen=True)
class Origin:
    """Where a dead message first came from, and which dead letter it is a redrive of (if any)."""

    consumer: str
    topic: str
    partition: int
    offset: int
    redrive_of: int | None = None

    def headers(self) -> dict[str, str]:
        found = {"consumer": self.consumer, "source_topic": self.topic,
                 "source_partition": str(self.partition), "source_offset": str(self.offset)}
        if self.redrive_of is not None:
            found["redrive_of"] = str(self.redrive_of)
        return found

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> "Origin":
        """The origin a redrive record carries; ValueError/KeyError when the headers are not one's
        (a value PostgreSQL could not store would otherwise stall the redrive topic)."""
        names = headers["consumer"], headers["source_topic"]
        if any(not 0 < len(n) <= MAX_NAME or "\x00" in n for n in names):
            raise ValueError("consumer and source_topic must be 1 to 300 characters without NUL")
        return cls(*names, _bounded(headers["source_partition"], 0, 2**31 - 1),
                   _bounded(headers["source_offset"], 0, 2**63 - 1), _bounded(headers["redrive_of"], 1, 2**63 - 1))


def _bounded(text: str, low: int, high: int) -> int:
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} is outside [{low}, {high}]")
    return value


def storable(text: str | None) -> str | None:
    """Text PostgreSQL can store: a NUL (legal in a Kafka key or an error message) written as `\\x00`."""
    return text.replace("\x00", "\\x00") if text else text


class Refused(refusal.Refused):
    """An operator's request on a dead letter that cannot be done: 404 for an unknown one, 409
    for one in the wrong state."""

    status = 409


async def add(conn: asyncpg.Connection, origin: Origin, key: str | None, payload: bytes | None,
              error: str, event_id: UUID | None = None, event_type: str | None = None) -> int | None:
    """Store a dead letter; its id, or None when this delivery was recorded before."""
    return await conn.fetchval(RECORD, origin.consumer, origin.topic, origin.partition, origin.offset,
                               storable(key), payload, storable(error[:MAX_ERROR]), event_id,
                               storable(event_type), origin.redrive_of)


async def give_up(settings: Settings, broker: KafkaBroker, pool: asyncpg.Pool, record, error: str,
                  origin: Origin, envelope: Envelope | None = None) -> None:
    """Record the message in the service's dead_letters table and its dead-letter topic.
    Raises if neither works, so the offset is not committed and the record comes back."""
    log.error("dead letter from %s[%s]@%s%s: %s", origin.topic, origin.partition, origin.offset,
              f" (redrive of {origin.redrive_of})" if origin.redrive_of else "", error)
    key = record.key.decode(errors="replace") if record.key else None
    async with pool.acquire() as conn:
        dead_id = await add(conn, origin, key, record.value, error,
                               envelope.event_id if envelope else None, envelope.type if envelope else None)
    headers = {**origin.headers(), "error": error[:1000]}
    if dead_id is not None:
        headers["dead_letter_id"] = str(dead_id)
    await broker.publish(record.value or b"", topic=settings.topic(dead_letter_topic(settings.service)),
                         key=record.key, headers=headers)


def _summary(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"], "state": row["state"], "consumer": row["consumer"], "topic": row["topic"],
        "partition": row["partition"], "offset": row["offset"], "key": row["key"],
        "event_id": str(row["event_id"]) if row["event_id"] else None, "event_type": row["event_type"],
        "error": row["error"], "recorded_at": row["recorded_at"].isoformat(),
        "state_at": row["state_at"].isoformat() if row["state_at"] else None,
        "state_by": row["state_by"], "note": row["note"], "redrive_of": row["redrive_of"],
        "payload_bytes": row["payload_bytes"],
    }


def render_payload(raw: bytes | None) -> tuple[str, Any]:
    """How a payload is shown: (`json`, the value) when it parses, (`text`, the string) when it is
    UTF-8, else (`base64`, its base64); (`none`, None) for a record without a value."""
    if raw is None:
        return "none", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")
    try:
        orjson.loads(raw)  # the strict gate: no NaN, no lone surrogates
        value = json.loads(text)  # parsed again so integers beyond 64 bits stay exact
    except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
        return "text", text
    # nesting deep enough to exhaust the response encoder's recursion is shown as the text it is
    return ("json", value) if _depth(value) <= MAX_JSON_DEPTH else ("text", text)


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


async def list_page(conn: asyncpg.Connection, state: str | None, topics: list[str] | None,
                    before: int | None, limit: int) -> dict[str, Any]:
    """One page, newest first; `next_before` is the cursor of the next page (None on the last)."""
    rows = await conn.fetch(LIST, state, topics, before, limit)
    return {"items": [_summary(r) for r in rows],
            "next_before": rows[-1]["id"] if len(rows) == limit else None}


async def show(conn: asyncpg.Connection, dead_letter_id: int) -> dict[str, Any]:
    """One dead letter with its payload and, once redriven, the outcome: `applied` (the consumer
    claimed its event id), `failed_again` (see `retried_as`) or `pending`."""
    row = await conn.fetchrow(SHOW, dead_letter_id)
    if row is None:
        raise Refused("unknown_dead_letter", f"no dead letter {dead_letter_id}", 404)
    encoding, payload = render_payload(row["payload"])
    found = {**_summary(row), "payload_encoding": encoding, "payload": payload}
    if row["state"] == "redriven":
        retried = [r["id"] for r in await conn.fetch(RETRIED_AS, dead_letter_id)]
        event_id = row["event_id"] or _envelope_id(payload)  # rows recorded before event ids were kept
        applied = event_id and await conn.fetchval(APPLIED_AT, row["consumer"], event_id)
        found["retried_as"] = retried
        found["outcome"] = "applied" if applied else "failed_again" if retried else "pending"
    return found


def _envelope_id(payload: Any) -> UUID | None:
    try:
        return UUID(payload["event_id"])
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


async def _lock_dead(conn: asyncpg.Connection, dead_letter_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(LOCK, dead_letter_id)
    if row is None:
        raise Refused("unknown_dead_letter", f"no dead letter {dead_letter_id}", 404)
    if row["state"] != "dead":
        raise Refused(f"already_{row['state']}", f"dead letter {dead_letter_id} is {row['state']}")
    return row


async def redrive(conn: asyncpg.Connection, dead_letter_id: int, redrive_topic: str,
                  consumers: set[str], now: datetime, by: str, note: str | None) -> None:
    """Send the dead letter's original bytes and key once more to its consumer, through the
    service's redrive topic (physical name `redrive_topic`). The outbox row and the `redriven`
    state commit together: a crash leaves either both or neither, and a second redrive is
    refused. Should the relay publish the row twice, the consumer's inbox applies it once."""
    async with conn.transaction():
        row = await _lock_dead(conn, dead_letter_id)
        if row["payload"] is None:
            raise Refused("empty_payload", f"dead letter {dead_letter_id} has no payload to send")
        if row["consumer"] not in consumers:
            raise Refused("no_consumer", f"this service no longer consumes for {row['consumer']}")
        origin = Origin(row["consumer"], row["topic"], row["partition"], row["offset"], dead_letter_id)
        await outbox.add_record(conn, redrive_topic, row["key"] or "", row["event_id"] or uuid4(),
                                row["event_type"] or UNDECODED_TYPE, row["payload"], origin.headers())
        await conn.execute(SET_STATE, dead_letter_id, "redriven", now, by, note)


async def discard(conn: asyncpg.Connection, dead_letter_id: int, now: datetime, by: str,
                  note: str | None) -> None:
    """Mark a dead letter as dropped on purpose: it can no longer be redriven."""
    async with conn.transaction():
        await _lock_dead(conn, dead_letter_id)
        await conn.execute(SET_STATE, dead_letter_id, "discarded", now, by, note)
