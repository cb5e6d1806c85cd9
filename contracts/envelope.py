"""The event envelope every message on the platform's topics is wrapped in."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Contract(BaseModel):
    """Base of every event and command payload: frozen, unknown fields ignored (additive evolution)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(BaseModel):
    """Metadata around one payload. `key` is the billing account id: one account's events stay in
    order on one partition. `causation_id` is the event that caused this one; `correlation_id`
    ties together everything that follows from one request."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    schema_version: int = 1
    occurred_at: AwareDatetime
    producer: str
    key: str
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    payload: dict[str, Any]

    def encode(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, raw: bytes) -> "Envelope":
        return cls.model_validate_json(raw)

    def headers(self) -> dict[str, str]:
        return {"event_type": self.type, "event_id": str(self.event_id),
                "schema_version": str(self.schema_version)}


def wrap(
    payload: Contract,
    *,
    key: str,
    producer: str,
    occurred_at: datetime,
    cause: Envelope | None = None,
    correlation_id: UUID | None = None,
) -> Envelope:
    """An envelope for `payload`, with type and version from its class, chained to `cause`."""
    from contracts.registry import type_of

    event_type, version = type_of(type(payload))
    return Envelope(
        type=event_type,
        schema_version=version,
        occurred_at=occurred_at,
        producer=producer,
        key=key,
        correlation_id=correlation_id or (cause.correlation_id or cause.event_id if cause else None),
        causation_id=cause.event_id if cause else None,
        payload=payload.model_dump(mode="json"),
    )
