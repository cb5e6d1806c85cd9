"""Auto-provisioning's pure rules: last writer wins by event time, snapshots reconcile exactly,
one licence per present user while analytics is on, at the platform's instants."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from services.auto_provisioning.domain import (
    Customer, User, apply_snapshot, licence_id, metering_point, observe, observe_analytics, reconcile,
)

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_an_older_or_duplicate_event_changes_nothing():
    user = User()
    assert observe(user, True, True, t(10))
    assert not observe(user, False, False, t(5))  # older: ignored
    assert not observe(user, False, False, t(10))  # same instant: a duplicate
    assert (user.present, user.voice, user.last_at) == (True, True, t(10))


@pytest.mark.parametrize("seed", range(20))
def test_any_delivery_order_ends_in_the_latest_events_state(seed):
    events = [(True, False, t(1)), (True, True, t(2)), (False, False, t(3)), (True, False, t(4))]
    shuffled = events * 2
    random.Random(seed).shuffle(shuffled)
    user = User()
    for present, voice, at in shuffled:
        observe(user, present, voice, at)
    assert (user.present, user.voice, user.last_at) == (True, False, t(4))


def test_licence_follows_presence_and_analytics_at_the_platform_instants():
    customer, user = Customer("acme"), User()
    observe(user, True, False, t(10))
    assert reconcile("c1", customer, "u1", user, t(10)) is None  # analytics off
    observe_analytics(customer, True, t(20))
    added = reconcile("c1", customer, "u1", user, t(20))
    assert (added.action, added.subscription, added.at) == ("provision", "ins-c1-u1-1", t(20))
    assert reconcile("c1", customer, "u1", user, t(21)) is None  # exactly one licence
    observe(user, False, False, t(30))
    removed = reconcile("c1", customer, "u1", user, t(30))
    assert (removed.action, removed.subscription, removed.at) == ("remove", "ins-c1-u1-1", t(30))
    observe(user, True, False, t(40))
    again = reconcile("c1", customer, "u1", user, t(40))
    assert (again.subscription, again.at) == (licence_id("c1", "u1", 2), t(40))


def test_a_user_added_before_analytics_was_enabled_is_licensed_from_the_enabling():
    customer, user = Customer("acme"), User()
    observe_analytics(customer, True, t(50))
    observe(user, True, False, t(10))  # arrives late, happened earlier
    assert reconcile("c1", customer, "u1", user, t(10)).at == t(50)


def test_a_late_removal_never_ends_a_licence_before_it_started():
    customer, user = Customer("acme"), User()
    observe(user, True, False, t(1))
    observe_analytics(customer, True, t(50))
    reconcile("c1", customer, "u1", user, t(50))
    observe(user, False, False, t(30))  # removed before the licence began, reported late
    assert reconcile("c1", customer, "u1", user, t(30)).at == t(50)


def test_analytics_disabled_removes_every_licence():
    customer = Customer("acme")
    observe_analytics(customer, True, t(0))
    users = {f"u{i}": User() for i in range(3)}
    for uid, u in users.items():
        observe(u, True, False, t(1))
        reconcile("c1", customer, uid, u, t(1))
    assert not observe_analytics(customer, False, t(0))  # older than known: ignored
    assert observe_analytics(customer, False, t(5))
    removals = [reconcile("c1", customer, uid, u, t(5)) for uid, u in users.items()]
    assert {(r.action, r.at) for r in removals} == {("remove", t(5))}


def test_snapshot_reconciles_exactly_but_keeps_newer_events():
    users = {"gone": User(), "kept": User(), "newer": User()}
    observe(users["gone"], True, True, t(1))
    observe(users["kept"], True, False, t(1))
    observe(users["newer"], True, True, t(100))  # after the snapshot: it wins
    changed = apply_snapshot(users, {"kept": True, "missing": False}, t(50))
    assert changed == ["gone", "kept", "missing"]
    assert not users["gone"].present and users["kept"].voice and users["missing"].present
    assert users["newer"].present and users["newer"].last_at == t(100)
    assert not observe(users["gone"], True, False, t(40))  # an event older than the snapshot


def test_snapshot_licences_and_removals_happen_at_the_snapshot_instant():
    customer = Customer("acme")
    observe_analytics(customer, True, t(0))
    users = {"old": User()}
    observe(users["old"], True, False, t(1))
    reconcile("c1", customer, "old", users["old"], t(1))
    apply_snapshot(users, {"new": False}, t(60))
    changes = {uid: reconcile("c1", customer, uid, u, t(60)) for uid, u in users.items()}
    assert (changes["old"].action, changes["old"].at) == ("remove", t(60))
    assert (changes["new"].action, changes["new"].at) == ("provision", t(60))


@pytest.mark.parametrize(("at", "zone", "point"), [
    ("2026-04-15T12:00:00+00:00", "UTC", "2026-04-01T00:00:00+00:00"),
    ("2026-04-01T00:00:00+00:00", "UTC", "2026-04-01T00:00:00+00:00"),
    ("2026-03-31T22:30:00+00:00", "Europe/Berlin", "2026-04-01T00:00:00+02:00"),
    ("2026-03-31T22:30:00+00:00", "America/New_York", "2026-03-01T00:00:00-05:00"),
])
def test_metering_point_is_the_first_of_the_month_in_the_accounts_zone(at, zone, point):
    assert metering_point(datetime.fromisoformat(at), zone) == datetime.fromisoformat(point)
