"""Facts naming what rating does not know: held apart, applied once it is known, rejected when late.

The rule: a usage record or user count for an unknown account, or a usage record whose part
number is not a product of its account's currency, is not a fact. It may still become one: the
account's opening (and the catalogue) travel on provisioning.events, the record on another
topic, so rating may see the record first. It is held in `pending_facts` (never read by a run),
applied as soon as a provisioning batch (or the sweep) finds what it names, and rejected with
a `CommandRejectedV1` on platform.rejections (`unknown_account` or `unknown_product`) once held
longer than BILLING_PENDING_FACTS_S (default 86,400 s: a day covers any outage of provisioning).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from contracts import parse, wrap
from contracts.common import CommandRejectedV1
from contracts.envelope import Envelope
from contracts.platform import UserCountReportedV1
from contracts.topics import REJECTIONS, USAGE_RECORDS
from contracts.usage import UsageRecordedV1
from services.rating import service
from shared import inbox, outbox
from shared.kafka import consumer_name
from shared.settings import Settings

log = logging.getLogger(__name__)

USAGE_CONSUMER = consumer_name("rating", USAGE_RECORDS.name)

# the positions (1-based) of the usage rows whose account is known and whose part number is a
# product in that account's currency
KNOWN_USAGE = """
SELECT r.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS r(account_id, part_number, i)
JOIN accounts a ON a.account_id = r.account_id
JOIN products p ON p.currency = a.currency AND p.part_number = r.part_number
"""
# the hot path of usage, in one statement: store the records whose account and product rating
# knows (a known record id is dropped by the primary key, so a redelivery changes nothing), and
# return the positions (1-based) of the others, to be held
STORE_KNOWN_USAGE = """
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[], $6::timestamptz[],
                         $7::text[], $8::text[], $9::text[], $10::text[])
        WITH ORDINALITY AS r(record_id, account_id, part_number, quantity, used_at, received_at,
                             direction, user_group, user_id, number, i)
), known AS (
    SELECT r.* FROM r JOIN accounts a ON a.account_id = r.account_id
    JOIN products p ON p.currency = a.currency AND p.part_number = r.part_number
), stored AS (
    INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at, received_at,
                               direction, user_group, user_id, number)
    SELECT record_id, account_id, part_number, quantity, used_at, received_at, direction, user_group, user_id, number
    FROM known
    ON CONFLICT (record_id) DO NOTHING
)
SELECT i FROM r WHERE i NOT IN (SELECT i FROM known)
"""
KNOWN_ACCOUNTS = "SELECT account_id FROM accounts WHERE account_id = ANY($1::text[])"
HOLD = """
INSERT INTO pending_facts (event_id, kind, account_id, part_number, envelope)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[])
ON CONFLICT (event_id) DO NOTHING
"""
# held facts whose account (and, for usage, product) rating now knows: taken out to be applied;
# only those of the accounts in $1 (just opened), or all when $1 is NULL (catalogue, sweep)
RELEASE = """
DELETE FROM pending_facts f
USING accounts a
WHERE a.account_id = f.account_id AND ($1::text[] IS NULL OR f.account_id = ANY($1::text[]))
  AND (f.kind = 'user_count' OR EXISTS (
      SELECT 1 FROM products p WHERE p.currency = a.currency AND p.part_number = f.part_number))
RETURNING f.kind, f.envelope
"""
EXPIRE = """
DELETE FROM pending_facts f WHERE held_at <= $1
RETURNING f.event_id, f.kind, f.account_id, f.part_number, f.envelope,
          EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = f.account_id) AS account_known
"""
COUNT = "SELECT count(*) FROM pending_facts"


async def record_usage(conn: asyncpg.Connection, batch: list[tuple[Envelope, UsageRecordedV1]]) -> None:
    """Store the records that name a known account and product; hold the others."""
    if not batch:
        return
    known = {r["i"] for r in await conn.fetch(KNOWN_USAGE, [e.account_id for _, e in batch],
                                              [e.part_number for _, e in batch])}
    await service.record_usage(conn, [item for i, item in enumerate(batch, 1) if i in known])
    await _hold(conn, "usage", [item for i, item in enumerate(batch, 1) if i not in known])


async def record_usage_fast(conn: asyncpg.Connection, batch: list[tuple[Envelope, UsageRecordedV1]]) -> None:
    """`record_usage` for rating's subscription, which has no inbox claim: one statement stores
    the known records, and only the records to hold are claimed in the inbox (a redelivery of a
    record held and since rejected must not be held and rejected again)."""
    if not batch:
        return
    rows = [(e.record_id, e.account_id, e.part_number, e.quantity, e.used_at, e.received_at or env.occurred_at,
             e.direction, e.group, e.user, e.number) for env, e in batch]
    unknown = [r["i"] for r in await conn.fetch(STORE_KNOWN_USAGE, *map(list, zip(*rows)))]
    if unknown:
        held = [batch[i - 1] for i in unknown]
        new = await inbox.claim_many(conn, USAGE_CONSUMER, [env for env, _ in held])
        await _hold(conn, "usage", [item for item in held if item[0].event_id in new])


async def record_user_counts(conn: asyncpg.Connection, batch: list[tuple[Envelope, UserCountReportedV1]]) -> None:
    """Store the counts of known accounts; hold the others."""
    if not batch:
        return
    known = {r["account_id"] for r in await conn.fetch(KNOWN_ACCOUNTS, [e.account_id for _, e in batch])}
    for envelope, count in batch:
        if count.account_id in known:
            await service.record_user_count(conn, envelope, count)
    await _hold(conn, "user_count", [(env, e) for env, e in batch if e.account_id not in known])


async def _hold(conn: asyncpg.Connection, kind: str, items: list[tuple[Envelope, object]]) -> None:
    if items:
        log.info("holding %d %s fact(s) naming an unknown account or product", len(items), kind)
        await conn.execute(HOLD, [env.event_id for env, _ in items], [kind] * len(items),
                           [e.account_id for _, e in items], [getattr(e, "part_number", None) for _, e in items],
                           [env.encode() for env, _ in items])


async def release(conn: asyncpg.Connection, account_ids: list[str] | None = None) -> int:
    """Apply the held facts that now name what rating knows (of `account_ids`, or of every
    account), in the caller's transaction."""
    rows = await conn.fetch(RELEASE, account_ids)
    usage, counts = [], []
    for row in rows:
        envelope = Envelope.decode(row["envelope"])
        (usage if row["kind"] == "usage" else counts).append((envelope, parse(envelope)))
    await service.record_usage(conn, usage)
    for envelope, count in counts:
        await service.record_user_count(conn, envelope, count)
    return len(rows)


async def sweep(conn: asyncpg.Connection, settings: Settings, now: datetime) -> tuple[int, int]:
    """One transaction: release what is now known, reject what waited past the deadline.
    Returns (released, rejected)."""
    hold = timedelta(seconds=settings.tuning.pending_facts_s)
    async with conn.transaction():
        released = await release(conn)
        expired = await conn.fetch(EXPIRE, now - hold)
        rejections = []
        for row in expired:
            envelope = Envelope.decode(row["envelope"])
            reason, what = (("unknown_product", f"no product {row['part_number']} for account {row['account_id']}")
                            if row["account_known"] else ("unknown_account", f"no account {row['account_id']}"))
            rejection = CommandRejectedV1(command_type=envelope.type, command_id=str(envelope.event_id),
                                          reason=reason, detail=f"{what} after {hold}",
                                          account_id=row["account_id"], command=envelope.payload)
            rejections.append(wrap(rejection, key=row["account_id"], producer=settings.service,
                                   occurred_at=now, cause=envelope))
        await outbox.add(conn, settings.topic(REJECTIONS.name), rejections)
    if released or expired:
        log.info("pending facts: %d applied, %d rejected", released, len(expired))
    return released, len(expired)
