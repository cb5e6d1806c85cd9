"""User packs: how many packs a user count needs, and the count at an instant."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime


def packs_for(count: int, pack_size: int = 100_000, minimum_packs: int = 1) -> int:
    """Packs for `count` users: max(minimum_packs, ceil(count / pack_size)). 200,000 -> 2; 201,000 -> 3."""
    return max(minimum_packs, -(-count // pack_size))


class UserCounts:
    """An account's reported user counts, answering "the count at an instant".

    The count at `t` is the last count reported at or before `t` (0 if none); two reports at
    the same instant: the later one in the input wins.
    """

    __slots__ = ("_instants", "_counts")

    def __init__(self, reports: list[tuple[datetime, int]] | tuple = ()) -> None:
        ordered = sorted(enumerate(reports), key=lambda item: (item[1][0], item[0]))
        self._instants = [at for _, (at, _) in ordered]
        self._counts = [count for _, (_, count) in ordered]

    def at(self, instant: datetime) -> int:
        """The last count reported at or before `instant`, or 0."""
        i = bisect_right(self._instants, instant)
        return self._counts[i - 1] if i else 0


def pack_start(onboarded_at: datetime, brand_ready_at: datetime | None, with_brand: bool) -> datetime | None:
    """When packs start billing: onboarding, or with a Full Brand in the initial onboarding the
    later of onboarding and that brand's commercial readiness (None while it is not ready)."""
    if not with_brand:
        return onboarded_at
    if brand_ready_at is None:
        return None
    return max(onboarded_at, brand_ready_at)
