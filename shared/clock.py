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


class ClockBackwards(ValueError):
    """A manual clock was asked to go back: what ran at the later instant cannot be undone."""


class ManualClock:
    """A service clock an operator moves forward (`BILLING_CLOCK=manual`: scenario replays and
    end-to-end tests that live in another month than the machine)."""

    def __init__(self, at: datetime) -> None:
        _aware(at)
        self._at = at.astimezone(timezone.utc)  # like the system clock's

    def now(self) -> datetime:
        return self._at

    def move_to(self, at: datetime) -> None:
        """Move to `at`, at or after the current instant (standing still is allowed)."""
        _aware(at)
        if at < self._at:
            raise ClockBackwards(f"the clock is at {self._at.isoformat()}; it only moves forward, "
                                 f"not to {at.isoformat()}")
        self._at = at.astimezone(timezone.utc)
