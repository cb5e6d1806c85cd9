"""The kit's manual clock: forward only, a periodic pass on each move, `GET`/`PUT /v1/ops/clock`
and its refusals (no I/O: the runtime has no pool, its periodic tasks are plain coroutines)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI

from shared import auth, http
from shared.clock import ClockBackwards, ManualClock, SystemClock
from shared.periodic import Periodic
from shared.runtime import ServiceRuntime, add_platform_routes
from shared.settings import Settings, SettingsError, Tuning
from tests.support.http import asgi_client, session_keys

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


# ------------------------------------------------------------ the clock


def test_a_manual_clock_moves_forward_or_stays():
    clock = ManualClock(T0)
    clock.move_to(T0)
    clock.move_to(T0 + timedelta(days=1))
    assert clock.now() == T0 + timedelta(days=1)


def test_a_manual_clock_refuses_to_go_back_and_stays_where_it_was():
    clock = ManualClock(T0)
    with pytest.raises(ClockBackwards, match="only moves forward"):
        clock.move_to(T0 - timedelta(microseconds=1))
    assert clock.now() == T0


def test_a_manual_clock_refuses_naive_instants():
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(T0).move_to(datetime(2026, 4, 1))


# ------------------------------------------------------------ the setting


def test_billing_clock_manual_gives_the_runtime_a_manual_clock_at_its_start(monkeypatch):
    monkeypatch.setenv("BILLING_CLOCK", "manual")
    monkeypatch.setenv("BILLING_CLOCK_START", "2026-02-01T00:00:00+01:00")
    runtime = ServiceRuntime(Settings.from_env("rating"), None)
    assert isinstance(runtime.clock, ManualClock)
    assert runtime.clock.now() == datetime(2026, 1, 31, 23, tzinfo=timezone.utc)


def test_the_default_is_the_system_clock_and_a_manual_one_starts_in_2000(monkeypatch):
    monkeypatch.delenv("BILLING_CLOCK", raising=False)
    assert isinstance(ServiceRuntime(Settings.from_env("rating"), None).clock, SystemClock)
    manual = ServiceRuntime(Settings(service="x", tuning=Tuning(clock="manual")), None).clock
    assert manual.now() == datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("name, value", [("BILLING_CLOCK", "frozen"), ("BILLING_CLOCK_START", "2026-03-01T00:00:00")])
def test_a_bad_clock_setting_stops_the_service(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        Settings.from_env("rating")


# ------------------------------------------------------------ a pass on demand


class Ticks:
    """A tick that records the clock's instant it saw; busy `busy_for` times, failing when told."""

    def __init__(self, clock, busy_for: int = 0, delay: float = 0.0) -> None:
        self.clock, self.busy_for, self.delay, self.seen, self.fail = clock, busy_for, delay, [], False

    async def __call__(self) -> bool:
        self.seen.append(self.clock.now())
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database away")
        return len(self.seen) <= self.busy_for


async def test_pass_now_waits_for_a_tick_that_started_after_it():
    clock = ManualClock(T0)
    ticks = Ticks(clock, delay=0.05)
    task = Periodic("t", ticks, interval=60)
    running = asyncio.create_task(task.run())
    await asyncio.sleep(0.01)  # the first tick is under way, on T0
    clock.move_to(T0 + timedelta(days=1))
    assert await task.pass_now() is True
    assert ticks.seen == [T0, T0 + timedelta(days=1)], "the tick under way did not count"
    running.cancel()


async def test_pass_now_waits_until_the_work_left_is_done_and_reports_a_failure():
    clock = ManualClock(T0)
    ticks = Ticks(clock, busy_for=3)
    task = Periodic("t", ticks, interval=60, busy=bool, backoff=0.01)
    running = asyncio.create_task(task.run())
    assert await task.pass_now() is True
    assert len(ticks.seen) >= 4, "three busy results ran again before the answer"
    ticks.fail = True
    assert await task.pass_now() is False
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


async def test_a_task_stopped_cancels_who_waits_for_it():
    task = Periodic("t", Ticks(ManualClock(T0), delay=60), interval=60)
    running = asyncio.create_task(task.run())
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(task.pass_now())
    await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


# ------------------------------------------------------------ over HTTP


def _service(clock: str) -> tuple[ServiceRuntime, FastAPI, Ticks]:
    settings = Settings(service="x", api_keys_file=str(session_keys().path),
                        tuning=Tuning(clock=clock, clock_start=T0))
    runtime = ServiceRuntime(settings, None)
    ticks = Ticks(runtime.clock)
    runtime._periodics.append(Periodic("overdue marked", ticks, interval=3600))
    app = FastAPI()
    app.state.runtime = runtime
    http.install(app)
    auth.install(app, settings)
    add_platform_routes(app)
    return runtime, app, ticks


async def test_put_moves_the_clock_and_answers_after_a_pass_on_the_new_instant():
    runtime, app, ticks = _service("manual")
    running = asyncio.create_task(runtime._periodics[0].run())
    async with asgi_client(app, "http://x") as client:
        assert (await client.get("/v1/ops/clock")).json() == {"mode": "manual", "at": "2026-03-01T00:00:00Z"}
        r = await client.put("/v1/ops/clock", json={"at": "2026-03-11T00:00:00+01:00"})
        assert r.status_code == 200, r.text
        assert r.json() == {"mode": "manual", "at": "2026-03-10T23:00:00Z", "failed_tasks": []}
        assert ticks.seen[-1] == datetime(2026, 3, 10, 23, tzinfo=timezone.utc)
        ticks.fail = True
        r = await client.put("/v1/ops/clock", json={"at": "2026-03-12T00:00:00Z"})
        assert r.json()["failed_tasks"] == ["overdue marked"]
    running.cancel()


async def test_put_refuses_to_go_back_and_changes_nothing():
    runtime, app, ticks = _service("manual")
    runtime.clock.move_to(T0 + timedelta(days=2))
    async with asgi_client(app, "http://x") as client:
        r = await client.put("/v1/ops/clock", json={"at": "2026-03-02T00:00:00Z"})
        assert (r.status_code, r.json()["reason"]) == (409, "clock_backwards")
        assert runtime.clock.now() == T0 + timedelta(days=2) and not ticks.seen


async def test_put_on_the_system_clock_is_refused():
    runtime, app, _ = _service("system")
    async with asgi_client(app, "http://x") as client:
        assert (await client.get("/v1/ops/clock")).json()["mode"] == "system"
        r = await client.put("/v1/ops/clock", json={"at": "2026-03-02T00:00:00Z"})
        assert (r.status_code, r.json()["reason"]) == (409, "clock_not_manual")


@pytest.mark.parametrize("body", [{"at": "2026-03-02T00:00:00"}, {"at": "1999-12-31T23:00:00Z"}, {},
                                  {"at": "2026-03-02T00:00:00Z", "extra": 1}])
async def test_put_refuses_invalid_instants(body):
    runtime, app, _ = _service("manual")
    async with asgi_client(app, "http://x") as client:
        r = await client.put("/v1/ops/clock", json=body)
        assert (r.status_code, r.json()["reason"]) == (422, "invalid_request")
        assert runtime.clock.now() == T0


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_only_operators_reach_the_clock(method):
    keys = session_keys()
    _, app, _ = _service("manual")
    body = {"at": "2026-03-02T00:00:00Z"}
    for token, status, reason in [(None, 401, "missing_credentials"), (keys.partner("acme"), 403, "forbidden_role"),
                                  (keys.integration, 403, "forbidden_role")]:
        async with asgi_client(app, "http://x", token) as client:
            r = await client.request(method, "/v1/ops/clock", json=body)
            assert (r.status_code, r.json()["reason"]) == (status, reason), (token, r.text)


def test_the_clock_routes_are_documented():
    _, app, _ = _service("manual")
    paths = app.openapi()["paths"]
    assert sorted(paths["/v1/ops/clock"]) == ["get", "put"]
    put = paths["/v1/ops/clock"]["put"]["responses"]
    assert {"200", "401", "403", "409", "422"} <= set(put)


# ------------------------------------------------------------ the CLI's helpers


async def test_move_clocks_goes_service_after_service_and_stops_at_a_refusal():
    import httpx

    from cli.clock import ClockRefused, move_clocks, read_clocks

    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.host))
        if request.url.host == "invoicing":
            return httpx.Response(409, json={"reason": "clock_backwards", "detail": "the clock is at ..."})
        if request.method == "GET":
            return httpx.Response(200, json={"mode": "manual", "at": "2026-03-01T00:00:00Z"})
        return httpx.Response(200, json={"mode": "manual", "at": "2026-03-02T00:00:00Z",
                                         "failed_tasks": ["lots expired"] if request.url.host == "prepaid" else []})

    urls = {"rating": "http://rating", "prepaid_credit": "http://prepaid"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        assert await move_clocks(http, urls, T0) == {"rating": [], "prepaid_credit": ["lots expired"]}
        assert calls == [("PUT", "rating"), ("PUT", "prepaid")]
        assert (await read_clocks(http, urls))["rating"]["mode"] == "manual"
        with pytest.raises(ClockRefused, match="invoicing: clock_backwards") as refused:
            await move_clocks(http, {**urls, "invoicing": "http://invoicing", "disputes": "http://disputes"}, T0)
        assert refused.value.reason == "clock_backwards" and ("PUT", "disputes") not in calls


async def test_a_version_2_replay_refuses_a_platform_on_the_system_clock():
    import httpx

    from cli.scenarios.settle import SettleError, Settler

    def answer(request: httpx.Request) -> httpx.Response:
        mode = "system" if request.url.host == "rating" else "manual"
        return httpx.Response(200, json={"mode": mode, "at": "2026-03-01T00:00:00Z"})

    urls = {"provisioning": "http://provisioning", "rating": "http://rating"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(SettleError, match="rating run.* on the system clock: start the platform with "
                                              "BILLING_CLOCK=manual"):
            await Settler(http, urls, "unused:9092", "", 1).clocks()


def test_a_replay_stops_at_events_prepaid_midnights_and_until():
    from cli.scenarios.settle import stops

    at = [datetime(2026, 3, 3, 12, tzinfo=timezone.utc), datetime(2026, 3, 3, 12, tzinfo=timezone.utc),
          datetime(2026, 3, 5, 15, tzinfo=timezone.utc), datetime(2026, 4, 1, tzinfo=timezone.utc)]
    until = datetime(2026, 3, 6, 1, tzinfo=timezone.utc)
    found = [s.isoformat() for s in stops(at, ["UTC", "Europe/Paris"], until)]
    assert found == ["2026-03-03T12:00:00+00:00", "2026-03-04T00:00:00+01:00", "2026-03-04T00:00:00+00:00",
                     "2026-03-05T00:00:00+01:00", "2026-03-05T00:00:00+00:00", "2026-03-05T15:00:00+00:00",
                     "2026-03-06T00:00:00+01:00", "2026-03-06T00:00:00+00:00", "2026-03-06T01:00:00+00:00"]
