"""The inbox: a consumer claims each event id in the same transaction as its state change."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from contracts.envelope import Envelope

# ON CONFLICT DO NOTHING: a second delivery of the same event claims nothing and is skipped
CLAIM = """
INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
"""

# set-based claim for a batch; RETURNING gives the ids this transaction now owns
CLAIM_MANY = """
INSERT INTO inbox (consumer, event_id, event_type)
SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)
ON CONFLICT DO NOTHING
RETURNING event_id
"""


async def claim(conn: asyncpg.Connection, consumer: str, envelope: Envelope) -> bool:
    """True when this event id is new for `consumer` (then process it), False for a redelivery."""
    status = await conn.execute(CLAIM, consumer, envelope.event_id, envelope.type)
    return status == "INSERT 0 1"


async def claim_many(
    conn: asyncpg.Connection, consumer: str, envelopes: Sequence[Envelope]
) -> set[UUID]:
    """The ids among `envelopes` that are new for `consumer` (duplicates in the batch count once)."""
    rows = await conn.fetch(
        CLAIM_MANY, consumer, [e.event_id for e in envelopes], [e.type for e in envelopes]
    )
    return {r["event_id"] for r in rows}
