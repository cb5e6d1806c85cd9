"""The service kit's pure parts: rounding, clocks, the working-day calendar, settings, contracts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

import contracts
from contracts.envelope import Contract, Envelope
from contracts.registry import UnknownEventType, event, parse, upcaster
from shared.calendar import WorkingCalendar
from shared.clock import FrozenClock
from shared.money import round_money
from shared.settings import Settings

UTC = timezone.utc


class TestMoney:
    @pytest.mark.parametrize("raw, rounded", [
        ("2.675", "2.68"), ("2.665", "2.67"), ("2.6649", "2.66"), ("-2.675", "-2.68"), ("0.005", "0.01"),
    ])
    def test_rounds_half_up_once(self, raw, rounded):
        assert round_money(Decimal(raw), "USD") == Decimal(rounded)

    def test_exact_until_rounded(self):
        third = Decimal("12.00") * (Decimal(17) / Decimal(31))
        assert round_money(third, "USD") == Decimal("6.58") != third


class TestCalendar:
    @pytest.mark.parametrize("received, due", [
        ("2026-06-12T15:00:00+00:00", "2026-06-17T15:00:00+00:00"),  # Friday 15:00 -> Wednesday 15:00
        ("2026-06-15T09:30:00+00:00", "2026-06-18T09:30:00+00:00"),  # Monday -> Thursday
        ("2026-06-13T10:00:00+00:00", "2026-06-18T00:00:00+00:00"),  # Saturday counts from Monday 00:00
    ])
    def test_three_working_days(self, received, due):
        cal = WorkingCalendar.of("UTC")
        assert cal.add_working_days(datetime.fromisoformat(received), 3) == datetime.fromisoformat(due)

    def test_holidays_are_skipped(self):
        cal = WorkingCalendar.of("UTC", [date(2026, 6, 15)])  # the Monday off
        got = cal.add_working_days(datetime(2026, 6, 12, 15, tzinfo=UTC), 3)
        assert got == datetime(2026, 6, 18, 15, tzinfo=UTC)

    def test_local_zone(self):
        cal = WorkingCalendar.of("Europe/London")
        # Friday 23:30 UTC in June is Saturday 00:30 in London: counts from Monday 00:00 local
        got = cal.add_working_days(datetime(2026, 6, 12, 23, 30, tzinfo=UTC), 1)
        assert got.isoformat() == "2026-06-16T00:00:00+01:00"

    def test_naive_refused(self):
        with pytest.raises(ValueError):
            WorkingCalendar.of().add_working_days(datetime(2026, 1, 1), 1)


def test_frozen_clock_moves_only_when_told():
    clock = FrozenClock(datetime(2026, 4, 1, tzinfo=UTC))
    clock.advance(timedelta(days=1))
    assert clock.now() == datetime(2026, 4, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 4, 3))


def test_settings_from_env(monkeypatch):
    monkeypatch.setenv("BILLING_TOPIC_PREFIX", "t1_")
    monkeypatch.setenv("BILLING_SCHEMA_PREFIX", "t1_")
    monkeypatch.setenv("RATING_HTTP_PORT", "9999")
    s = Settings.from_env("rating")
    assert s.topic("rating.requests") == "t1_rating.requests"
    assert s.db_schema == "t1_rating" and s.http_port == 9999
    monkeypatch.setenv("BILLING_RETRY_BUDGET", "x")
    with pytest.raises(ValueError, match="BILLING_RETRY_BUDGET"):
        Settings.from_env("rating")


class TestContracts:
    def test_envelope_round_trip_and_chain(self):
        from contracts.provisioning import FeatureProvisionedV1

        now = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
        first = contracts.wrap(FeatureProvisionedV1(account_id="a", subscription_id="s", part_number="P",
                                                    quantity=1, at=now), key="a", producer="test", occurred_at=now)
        second = contracts.wrap(FeatureProvisionedV1(account_id="a", subscription_id="t", part_number="P",
                                                     quantity=1, at=now), key="a", producer="test",
                                occurred_at=now, cause=first)
        assert second.causation_id == first.event_id and second.correlation_id == first.event_id
        decoded = Envelope.decode(second.encode())
        assert decoded == second and parse(decoded).subscription_id == "t"

    def test_naive_instants_refused(self):
        with pytest.raises(ValueError):
            Envelope(type="x", occurred_at=datetime(2026, 1, 1), producer="p", key="k", payload={})

    def test_unknown_fields_ignored_unknown_types_refused(self):
        env = Envelope(type="provisioning.feature.removed", occurred_at=datetime.now(UTC), producer="p",
                       key="a", payload={"account_id": "a", "subscription_id": "s",
                                         "at": "2026-01-01T00:00:00Z", "added_later": 1})
        assert parse(env).subscription_id == "s"
        with pytest.raises(UnknownEventType):
            parse(env.model_copy(update={"type": "no.such.event"}))

    def test_upcaster_turns_v1_into_v2(self):
        name = f"test.upcast.{uuid4().hex}"

        @event(name, 1)
        class ThingV1(Contract):
            amount: str

        @event(name, 2)
        class ThingV2(Contract):
            amount: str
            currency: str

        @upcaster(name, 1)
        def _v1_to_v2(payload: dict) -> dict:
            return {**payload, "currency": "USD"}

        env = Envelope(type=name, schema_version=1, occurred_at=datetime.now(UTC), producer="p",
                       key="k", payload={"amount": "1.00"})
        assert parse(env) == ThingV2(amount="1.00", currency="USD")


def test_envelope_wire_form_round_trips_with_foreign_uuids_and_decimals():
    """encode() is orjson over the fields: instants end in Z, asyncpg's UUIDs and Decimals are text."""
    import asyncpg.pgproto.pgproto as pgproto

    correlation = uuid4()
    env = Envelope.model_construct(
        event_id=uuid4(), type="t", schema_version=1, occurred_at=datetime(2026, 4, 1, 6, tzinfo=timezone.utc),
        producer="p", key="k", correlation_id=pgproto.UUID(str(correlation)), causation_id=None,
        payload={"amount": Decimal("1.50"), "lines": [{"x": "y"}]})
    raw = env.encode()
    assert b'"occurred_at":"2026-04-01T06:00:00Z"' in raw
    back = Envelope.decode(raw)
    assert back.correlation_id == correlation and back.payload == {"amount": "1.50", "lines": [{"x": "y"}]}


def test_outbox_partitions_keys_as_the_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    from shared.outbox import partition_of

    partitions = list(range(8))
    for i in range(500):
        key = f"acct-{i}".encode()
        assert partition_of(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
