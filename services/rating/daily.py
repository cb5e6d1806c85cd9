"""Pure glue of prepaid accounts' daily usage debits: local midnights and the records each one takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from services.rating.pricing import UsageRecord, day_of, zone

MAX_MIDNIGHTS = 62  # midnights one tick publishes per account: a rating down for weeks catches up in steps


def midnight_of(day: date, tz: str) -> datetime:
    """00:00 of `day` in zone `tz` (fold=0 where a DST gap skips midnight, as metering points)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz))


def next_midnight(after: datetime, tz: str) -> datetime:
    """The first local midnight strictly after `after`."""
    return midnight_of(day_of(after, zone(tz)) + timedelta(days=1), tz)


def due_midnights(first: datetime, now: datetime, tz: str, limit: int = MAX_MIDNIGHTS) -> list[datetime]:
    """The local midnights from `first` (itself a midnight) up to and including `now`, at most `limit`."""
    out, m = [], first
    while m <= now and len(out) < limit:
        out.append(m)
        m = next_midnight(m, tz)
    return out


def split_by_midnight(records: Sequence[UsageRecord], midnights: Sequence[datetime]) -> list[list[UsageRecord]]:
    """The records each midnight debits: those that arrived before it and not before the previous
    one (a record that arrived before the first midnight goes to the first). Records that arrived
    at or after the last midnight wait for the next tick."""
    out: list[list[UsageRecord]] = [[] for _ in midnights]
    for r in sorted(records, key=lambda r: (r.arrived_at, r.id)):
        for i, m in enumerate(midnights):
            if r.arrived_at < m:
                out[i].append(r)
                break
    return out
