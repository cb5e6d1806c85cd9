"""Time in a replay of a version-2 file: the instants it stops at, and moving every service's
manual clock to one of them until the platform has done all that instant causes (docs/manual-clock.md).

A move answers once the service's periodic tasks ran on the new instant and their events left
its outbox; what those events cause in other services comes through Kafka. So a stop moves
every clock, waits until every service's consumer group has committed the topics' end offsets,
and does both again until a round publishes nothing new: then nothing is left to happen at
that instant (the same instant again is allowed and only runs the periodic tasks once more).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cli.clock import ClockRefused, move_clocks, read_clocks
from cli.consumption import behind, group_report, partitions_of
from shared.kafka_acl import ACCESS
from shared.kafka_security import client_options

MAX_ROUNDS = 20  # rounds of one stop: each is a hop of events from one service to the next


class SettleError(RuntimeError):
    """The platform did not come to rest at an instant (or refused to move its clocks)."""


def midnights(zone: str, after: datetime, until: datetime) -> list[datetime]:
    """The local midnights (00:00 in `zone`; where a DST gap skips it, the instant 00:00 reads with
    fold=0, as the services compute it) strictly after `after`, up to and including `until`."""
    tz = ZoneInfo(zone)
    day: date = after.astimezone(tz).date()
    out = []
    while True:
        day += timedelta(days=1)
        m = datetime(day.year, day.month, day.day, tzinfo=tz)
        if m > until:
            return out
        if m > after:
            out.append(m)


def stops(event_instants: Iterable[datetime], zones: Iterable[str], until: datetime) -> list[datetime]:
    """Where a replay stops the clocks: every event's instant (up to `until`), every local
    midnight of `zones` (the prepaid accounts': their daily debits and lot expiries) from the
    first event on, and `until`; in time order, each instant once."""
    instants = sorted(at for at in event_instants if at <= until)
    if not instants:
        return [until]
    out = set(instants) | {until}
    for zone in set(zones):
        out |= set(midnights(zone, instants[0], until))
    # one entry per instant, whatever the offset it was written with
    by_utc = {at.timestamp(): at for at in sorted(out)}
    return [by_utc[k] for k in sorted(by_utc)]


class Settler:
    """Moves the clocks of the services in `urls` (name -> base URL, in start order) and waits
    for their consumer groups (`<prefix><service>`) on the topics each consumes."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], bootstrap: str, prefix: str,
                 timeout: float) -> None:
        self.http, self.urls, self.bootstrap, self.prefix, self.timeout = http, urls, bootstrap, prefix, timeout
        self.topics = {s: [prefix + t.name for t in ACCESS[s].consumes] for s in urls if s in ACCESS}

    async def __aenter__(self) -> "Settler":
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **client_options())
        await self.admin.start()
        self.offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **client_options(),
                                        group_id=None, enable_auto_commit=False)
        await self.offsets.start()
        wanted = sorted({t for topics in self.topics.values() for t in topics})
        self.partitions = await partitions_of(self.bootstrap, wanted)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.offsets.stop()
        await self.admin.close()

    async def clocks(self) -> dict[str, dict]:
        """Every service's clock, refusing a platform that is not on manual clocks."""
        try:
            found = await read_clocks(self.http, self.urls)
        except ClockRefused as exc:
            raise SettleError(f"cannot read the services' clocks ({exc}): is the platform running?") from None
        system = sorted(s for s, c in found.items() if c["mode"] != "manual")
        if system:
            raise SettleError(
                f"version-2 files are replayed on manual clocks, and {', '.join(system)} run(s) on the system "
                "clock: start the platform with BILLING_CLOCK=manual (`BILLING_CLOCK=manual make up`, "
                "docs/manual-clock.md), or use `billing scenario run` for this file")
        return found

    async def settle(self, at: datetime) -> None:
        """Move every clock to `at` and wait until the platform has done everything that causes."""
        deadline = time.monotonic() + self.timeout
        before: dict[TopicPartition, int] | None = None
        for _ in range(MAX_ROUNDS):
            try:
                failed = await move_clocks(self.http, self.urls, at)
            except ClockRefused as exc:
                raise SettleError(f"moving the clocks to {at.isoformat()}: {exc}") from None
            broken = {s: tasks for s, tasks in failed.items() if tasks}
            if broken:
                raise SettleError(f"at {at.isoformat()} these periodic tasks failed: {broken} (see the services' logs)")
            ends = dict(await self.offsets.end_offsets(self.partitions)) if self.partitions else {}
            if ends == before:
                return  # a whole round published nothing: at rest
            await self._consumed(ends, deadline, at)
            before = ends
        raise SettleError(f"the platform kept publishing at {at.isoformat()} after {MAX_ROUNDS} rounds")

    async def _consumed(self, ends: dict[TopicPartition, int], deadline: float, at: datetime) -> None:
        """Wait until every service's group has committed `ends` on the topics it consumes."""
        for service, topics in self.topics.items():
            wanted = {tp: off for tp, off in ends.items() if tp.topic in topics and off > 0}
            group = f"{self.prefix}{service}"
            while True:
                lagging = await behind(self.admin, group, wanted)
                if not lagging:
                    break
                if time.monotonic() > deadline:
                    raise SettleError(f"{service} has not consumed everything by the stop at {at.isoformat()} "
                                      f"(timeout): {await group_report(self.admin, group, wanted, lagging)}")
                await asyncio.sleep(0.05)
