"""Sign-in throttling: after a few failures for one address or one client, refuse for a while."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


class Throttle:
    """Failures per key (an address, a client address) within WINDOW, in memory: a restart or a
    second replica forgets them, which only weakens a limit that Argon2's cost already backs."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = WINDOW) -> None:
        self.max_failures, self.window = max_failures, window
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        seen = self._failures.get(key, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        return seen

    def blocked_for(self, keys: list[str], now: datetime) -> timedelta | None:
        """How long these keys stay refused, or None when a try is allowed."""
        waits = [seen[0] + self.window - now for key in keys
                 if len(seen := self._recent(key, now)) >= self.max_failures]
        return max(waits) if waits else None

    def failed(self, keys: list[str], now: datetime) -> None:
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
