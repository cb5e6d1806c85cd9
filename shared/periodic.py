"""Periodic background tasks: the poll interval, early wake-ups and the back-off after a failure in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)


class Periodic:
    """Runs `tick()` every `interval` seconds until cancelled.

    `wake()` runs it at once instead of at the end of the interval (a NOTIFY, say). When `busy`
    says its result left more to do, it runs again at once. When it raises, the error is logged and
    it runs again after `backoff` seconds (default: the interval): a database away for a while
    does not end the task. What one account's data makes fail is the tick's own business
    (shared/task_failures.py): it skips that account and goes on.
    """

    def __init__(self, name: str, tick: Callable[[], Awaitable[Any]], interval: float,
                 backoff: float | None = None, busy: Callable[[Any], bool] | None = None,
                 report: bool = False) -> None:
        self.name = name
        self.tick = tick
        self.interval = interval
        self.backoff = interval if backoff is None else backoff
        self.busy = busy or (lambda _: False)
        self.report = report  # log what a tick did, when it did something
        self._wake = asyncio.Event()
        self._asked: list[asyncio.Future[bool]] = []  # callers of pass_now() waiting for a tick

    def wake(self, *_: object) -> None:
        """Run the next tick now (also usable as an asyncpg listener callback)."""
        self._wake.set()

    async def pass_now(self) -> bool:
        """Wake the task and wait until a tick that started after this call has finished, and
        the ticks that its `busy` result asked for (a manual clock moved: the work due up to the
        new instant is done when this returns). True when it ended well, False when it failed."""
        asked: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._asked.append(asked)
        self.wake()
        return await asked

    async def run(self) -> None:
        serving: list[asyncio.Future[bool]] = []  # asked before the current tick started
        try:
            while True:
                # cleared before the tick: a wake-up during it is not lost, it runs the next one at once
                self._wake.clear()
                serving, self._asked = serving + self._asked, []
                try:
                    result = await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; retrying in %g s", self.name, self.backoff)
                    serving = _answer(serving, False)
                    await asyncio.sleep(self.backoff)
                    continue
                if self.report and result:
                    log.info("%s: %s", self.name, result)
                if self.busy(result):
                    continue
                serving = _answer(serving, True)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
        finally:  # stopped: nobody waits for a tick that will not come
            for asked in serving + self._asked:
                asked.cancel()


def _answer(waiting: list[asyncio.Future[bool]], ok: bool) -> list[asyncio.Future[bool]]:
    for asked in waiting:
        if not asked.done():
            asked.set_result(ok)
    return []


async def run_all(tasks: Sequence[Periodic], pool: Any = None, channel: str | None = None) -> None:
    """Run `tasks` together until cancelled; with `channel`, a PostgreSQL NOTIFY on it (listened to
    on one connection of `pool`, an asyncpg pool) wakes them all."""
    if channel is None:
        await asyncio.gather(*(task.run() for task in tasks))
        return

    def wake_all(*_: object) -> None:
        for task in tasks:
            task.wake()

    listener = await pool.acquire()
    await listener.add_listener(channel, wake_all)
    try:
        await asyncio.gather(*(task.run() for task in tasks))
    finally:
        with contextlib.suppress(Exception):
            await listener.remove_listener(channel, wake_all)
        await pool.release(listener)
