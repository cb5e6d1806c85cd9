"""Clocks: domain code never reads the wall clock; the composition root injects one of these."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FrozenClock:
    """A clock that stands still until moved: for tests and scenario replays."""

    def __init__(self, at: datetime) -> None:
        _aware(at)
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        _aware(at)
        self._at = at

    def advance(self, delta: timedelta) -> None:
        self._at = self._at + delta


def _aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"instants must be timezone-aware: {at!r}")
