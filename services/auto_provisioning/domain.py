"""Pure rules of automatic provisioning: each user's platform state by event time, and the one
Insights User licence a present user holds while its customer's analytics is enabled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calendar import metering_point_at_or_before as metering_point  # noqa: F401  (domain.metering_point)

INSIGHTS_USER = "XDM00001"


@dataclass
class User:
    """What is known of one user: the state from its latest event (`last_at`), since when it is
    present, and the licence it holds (`licence` subscription id, from `licence_at`)."""

    present: bool = False
    voice: bool = False
    last_at: datetime | None = None
    present_since: datetime | None = None
    licence: str | None = None
    licence_at: datetime | None = None
    seq: int = 0


@dataclass
class Customer:
    """A customer's analytics flag by event time (`analytics_at`), and since when it is on."""

    account: str
    analytics: bool = False
    analytics_at: datetime | None = None
    analytics_since: datetime | None = None


@dataclass(frozen=True)
class LicenceChange:
    """Provision or remove the licence `subscription` of (customer, user), effective `at`."""

    action: str  # provision | remove
    account: str
    customer: str
    user: str
    subscription: str
    at: datetime


def licence_id(customer: str, user: str, n: int) -> str:
    """Deterministic subscription id of a user's n-th licence (replays give the same ids)."""
    return f"ins-{customer}-{user}-{n}"


def observe(user: User, present: bool, voice: bool, at: datetime) -> bool:
    """Apply one user event (its state after the event) unless something as new is known:
    last writer wins by event time, so duplicates and older events change nothing."""
    if user.last_at is not None and at <= user.last_at:
        return False
    if present and not user.present:
        user.present_since = at
    user.present, user.voice, user.last_at = present, voice and present, at
    return True


def observe_analytics(customer: Customer, enabled: bool, at: datetime) -> bool:
    """Apply an analytics enabled/disabled event, last writer wins by event time."""
    if customer.analytics_at is not None and at <= customer.analytics_at:
        return False
    if enabled and not customer.analytics:
        customer.analytics_since = at
    customer.analytics, customer.analytics_at = enabled, at
    return True


def apply_snapshot(users: dict[str, User], listed: dict[str, bool], at: datetime) -> list[str]:
    """A full snapshot at `at` (user id -> voice enabled): users it lists are present, every other
    known user is gone, except users with an event at or after `at`. Returns the ids changed."""
    changed = []
    for user_id in set(users) | set(listed):
        user = users.setdefault(user_id, User())
        if observe(user, user_id in listed, listed.get(user_id, False), at):
            changed.append(user_id)
    return sorted(changed)


def reconcile(customer_id: str, customer: Customer, user_id: str, user: User,
              at: datetime) -> LicenceChange | None:
    """The licence change that makes `user` hold a licence exactly while present with analytics
    on. A new licence starts when both became true; a removal is effective at `at` (the event
    that ended it), never before the licence's own start."""
    wanted = user.present and customer.analytics
    if wanted and user.licence is None:
        user.seq += 1
        user.licence = licence_id(customer_id, user_id, user.seq)
        starts = [t for t in (user.present_since, customer.analytics_since) if t is not None]
        user.licence_at = max(starts) if starts else at
        return LicenceChange("provision", customer.account, customer_id, user_id, user.licence, user.licence_at)
    if not wanted and user.licence is not None:
        change = LicenceChange("remove", customer.account, customer_id, user_id, user.licence,
                               max(at, user.licence_at))
        user.licence = user.licence_at = None
        return change
    return None
