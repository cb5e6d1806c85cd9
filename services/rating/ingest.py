"""`POST /v1/usage`: usage records over HTTP, for platforms that cannot speak Kafka (docs/ingestion.md)."""

# Each record is validated on its own (a bad one is refused, the rest go on) and published to
# usage.records, where rating and invoicing consume it as any other record. The answer (202)
# comes once Kafka acknowledged every accepted record: what was accepted is durable. A record id
# is accepted once: `http_usage` claims each id in the transaction that publishes it, so a second
# submission (or a concurrent one, which waits on the first's claim) is a duplicate; an id
# rating already stored from Kafka is one too.

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field, ValidationError

from contracts import build_envelope
from contracts.registry import type_of
from contracts.topics import USAGE_RECORDS
from contracts.usage import UsageRecordedV1
from shared import auth
from shared.auth import Caller
from shared.http import ERROR_RESPONSES, ErrorBody, problems
from shared.refusal import Refused

MAX_RECORDS = 1_000
_USAGE = type_of(UsageRecordedV1)

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)

STORED = "SELECT record_id FROM usage_records WHERE record_id = ANY($1::text[])"
# ids in order, so that two batches sharing ids lock them in the same order (no deadlock); a
# claim another transaction holds makes this one wait until it commits (then a duplicate) or
# rolls back (then ours)
CLAIM = """
INSERT INTO http_usage (record_id, account_id, key_id, accepted_at)
SELECT r, a, $3, $4 FROM unnest($1::text[], $2::text[]) AS x(r, a) ORDER BY r
ON CONFLICT (record_id) DO NOTHING
RETURNING record_id
"""


class UsageBatch(BaseModel):
    """Up to 1,000 usage records (the `usage.recorded` contract's fields), each checked apart."""

    records: list[Any] = Field(description="Usage records: record_id, account_id, part_number, quantity, "
                                           "used_at and optionally received_at, as in `usage.recorded`")


class RecordRefusal(BaseModel):
    index: int = Field(description="The record's position in `records` (from 0)")
    record_id: str | None = None
    reason: str = Field(examples=["invalid_record"], description="`invalid_record` or `unknown_account`")
    detail: str = ""


class UsageAccepted(BaseModel):
    """What became of each record: published (accepted), already known (duplicates: an id seen
    before or earlier in the batch), or refused, with why."""

    accepted: int
    duplicates: int
    refused: int
    refusals: list[RecordRefusal]


def _problem_text(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, p['loc'])) or 'record'}: {p['msg']}" for p in problems(exc.errors()))[:500]


def validate(records: list[Any]) -> tuple[list[tuple[int, UsageRecordedV1]], list[RecordRefusal]]:
    """The valid records with their positions, and the refusals of the others."""
    if not records:
        raise Refused("empty_batch", "send 1 to 1,000 records", 422)
    if len(records) > MAX_RECORDS:
        raise Refused("too_many_records", f"{len(records)} records: a batch holds at most {MAX_RECORDS:,}", 413)
    valid, refused = [], []
    for i, item in enumerate(records):
        try:
            valid.append((i, UsageRecordedV1.model_validate(item)))
        except ValidationError as exc:
            rid = item.get("record_id") if isinstance(item, dict) else None
            refused.append(RecordRefusal(index=i, record_id=rid if isinstance(rid, str) else None,
                                         reason="invalid_record", detail=_problem_text(exc)))
    return valid, refused


@router.post("/usage", status_code=202, response_model=UsageAccepted, responses={
                 413: {"model": ErrorBody, "description": "`too_many_records` (over 1,000) or `request_too_large`"},
                 503: {"model": ErrorBody, "description": "`usage_not_stored`: Kafka did not acknowledge; "
                                                          "nothing was accepted, send the batch again"}},
             summary="Submit up to 1,000 usage records (integration keys; a partner key for its own tree)")
async def submit_usage(request: Request, batch: UsageBatch = Body(), caller: Caller = Depends(
        auth.allow("partner", "integration"))) -> UsageAccepted:
    runtime = request.app.state.runtime
    valid, refused = validate(batch.records)
    async with runtime.pool.acquire() as conn:
        if caller.is_partner:
            tree = await auth.tree(conn, caller)
            refused += [RecordRefusal(index=i, record_id=r.record_id, reason="unknown_account",
                                      detail=f"no account {r.account_id}") for i, r in valid if r.account_id not in tree]
            valid = [(i, r) for i, r in valid if r.account_id in tree]
        first: dict[str, UsageRecordedV1] = {}
        for _, r in valid:
            first.setdefault(r.record_id, r)
        ids = list(first)
        async with conn.transaction():
            stored = {row["record_id"] for row in await conn.fetch(STORED, ids)} if ids else set()
            fresh = [first[rid] for rid in ids if rid not in stored]
            now = runtime.clock.now()
            claimed = {row["record_id"] for row in await conn.fetch(
                CLAIM, [r.record_id for r in fresh], [r.account_id for r in fresh], caller.key_id, now)} if fresh else set()
            accepted = [r for r in fresh if r.record_id in claimed]
            await _publish(runtime, accepted, now)  # the claims commit only once Kafka has the records
    refused.sort(key=lambda r: r.index)
    return UsageAccepted(accepted=len(accepted), duplicates=len(valid) - len(accepted), refused=len(refused),
                         refusals=refused)


async def _publish(runtime, records: list[UsageRecordedV1], now) -> None:
    topic = runtime.topic(USAGE_RECORDS)
    sends = []
    try:
        for r in records:
            envelope = build_envelope(*_USAGE, r.model_dump(mode="json"), key=r.account_id,
                                      producer=runtime.settings.service, occurred_at=now)
            sends.append(await runtime.producer.send(
                topic, envelope.encode(), key=r.account_id.encode(),
                headers=[(k, v.encode()) for k, v in envelope.headers().items()]))
        await asyncio.gather(*sends)
    except Exception as exc:  # Kafka unreachable or refusing: nothing is accepted, the caller retries
        raise Refused("usage_not_stored", f"Kafka did not acknowledge the records ({type(exc).__name__}): "
                                          "send the batch again", 503) from exc
