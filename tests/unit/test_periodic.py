"""The kit's periodic task: its interval, a failure retried after the back-off, a wake-up, cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.periodic import Periodic, run_all


class Ticks:
    """A tick that records when it ran and fails the first `failures` times."""

    def __init__(self, failures: int = 0, busy_for: int = 0) -> None:
        self.at: list[float] = []
        self.failures, self.busy_for = failures, busy_for

    async def __call__(self) -> int:
        self.at.append(time.monotonic())
        if len(self.at) <= self.failures:
            raise RuntimeError("database away")
        return len(self.at) <= self.failures + self.busy_for


async def _run_for(task: Periodic, seconds: float) -> None:
    running = asyncio.create_task(task.run())
    await asyncio.sleep(seconds)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_a_tick_runs_at_once_then_every_interval():
    ticks = Ticks()
    await _run_for(Periodic("t", ticks, interval=0.1), 0.35)
    assert len(ticks.at) == 4  # at 0, 0.1, 0.2, 0.3
    assert all(b - a >= 0.09 for a, b in zip(ticks.at, ticks.at[1:]))


async def test_a_failing_tick_is_retried_after_the_backoff_not_the_interval(caplog):
    ticks = Ticks(failures=2)
    await _run_for(Periodic("metering", ticks, interval=60, backoff=0.05), 0.3)
    assert len(ticks.at) == 3, "two failures, retried after the back-off, then the interval"
    assert 0.04 <= ticks.at[1] - ticks.at[0] < 0.5 and 0.04 <= ticks.at[2] - ticks.at[1] < 0.5
    assert "metering failed; retrying in 0.05 s" in caplog.text


async def test_the_backoff_defaults_to_the_interval():
    task = Periodic("t", Ticks(), interval=7)
    assert task.backoff == 7


async def test_a_wake_up_runs_the_tick_early():
    ticks = Ticks()
    task = Periodic("t", ticks, interval=60)
    running = asyncio.create_task(task.run())
    await asyncio.sleep(0.05)
    assert len(ticks.at) == 1
    task.wake()
    await asyncio.sleep(0.05)
    assert len(ticks.at) == 2
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_a_busy_tick_runs_again_at_once():
    ticks = Ticks(busy_for=3)
    await _run_for(Periodic("t", ticks, interval=60, busy=bool), 0.1)
    assert len(ticks.at) == 4  # three busy results, then the wait for the interval


async def test_cancellation_stops_it_even_during_a_tick():
    started, ran = asyncio.Event(), []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)
        ran.append("finished")

    running = asyncio.create_task(Periodic("t", slow, interval=0.01).run())
    await started.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not ran


async def test_run_all_runs_tasks_together_and_cancels_them_together():
    first, second = Ticks(), Ticks()
    running = asyncio.create_task(run_all([Periodic("a", first, 0.05), Periodic("b", second, 0.05)]))
    await asyncio.sleep(0.12)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    count = len(first.at), len(second.at)
    await asyncio.sleep(0.1)
    assert count == (len(first.at), len(second.at)) and min(count) >= 2


class _Listener:
    """asyncpg's listener interface, notified by hand."""

    def __init__(self) -> None:
        self.callbacks: dict[str, object] = {}

    async def add_listener(self, channel, callback):
        self.callbacks[channel] = callback

    async def remove_listener(self, channel, callback):
        del self.callbacks[channel]


class _Pool:
    def __init__(self) -> None:
        self.listener, self.released = _Listener(), False

    async def acquire(self):
        return self.listener

    async def release(self, conn):
        self.released = True


async def test_a_notify_on_the_channel_wakes_every_worker_and_the_listener_is_given_back():
    pool, workers = _Pool(), [Ticks(), Ticks()]
    running = asyncio.create_task(run_all([Periodic("w", t, 60) for t in workers], pool, "rating_runs"))
    await asyncio.sleep(0.05)
    assert [len(t.at) for t in workers] == [1, 1]
    pool.listener.callbacks["rating_runs"](None, 0, "rating_runs", "")  # asyncpg's (conn, pid, channel, payload)
    await asyncio.sleep(0.05)
    assert [len(t.at) for t in workers] == [2, 2]
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert pool.released and not pool.listener.callbacks
