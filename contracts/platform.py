"""Events of the communication platforms (users, voice, analytics, full snapshots) and the user
counts auto-provisioning reports at metering points."""

from __future__ import annotations

from pydantic import Field

from contracts.envelope import Contract
from contracts.registry import event
from contracts.types import Count, Id, Instant


@event("platform.user.added", 1)
class UserAddedV1(Contract):
    """A user was configured on a customer's communication platform at `at`."""

    account_id: Id
    customer_id: Id
    user_id: Id
    voice_enabled: bool = False
    at: Instant


@event("platform.user.removed", 1)
class UserRemovedV1(Contract):
    """A user was removed from a customer's communication platform at `at`."""

    account_id: Id
    customer_id: Id
    user_id: Id
    at: Instant


@event("platform.user.voice_enabled", 1)
class UserVoiceEnabledV1(Contract):
    """Enterprise voice was enabled for a user at `at` (the user exists)."""

    account_id: Id
    customer_id: Id
    user_id: Id
    at: Instant


@event("platform.user.voice_disabled", 1)
class UserVoiceDisabledV1(Contract):
    """Enterprise voice was disabled for a user at `at` (the user exists)."""

    account_id: Id
    customer_id: Id
    user_id: Id
    at: Instant


@event("platform.analytics.enabled", 1)
class AnalyticsEnabledV1(Contract):
    """Analytics was enabled for a customer at `at`: its users hold Insights User licences."""

    account_id: Id
    customer_id: Id
    at: Instant


@event("platform.analytics.disabled", 1)
class AnalyticsDisabledV1(Contract):
    """Analytics was disabled for a customer at `at`: its Insights User licences end."""

    account_id: Id
    customer_id: Id
    at: Instant


class SnapshotUserV1(Contract):
    """One user in a snapshot."""

    user_id: Id
    voice_enabled: bool = False


@event("platform.users.snapshot", 1)
class UsersSnapshotV1(Contract):
    """Every user of a customer's platform as of `at`; anything known from before `at` yields
    to it. `analytics_enabled` is the customer's analytics flag then (None: not reported)."""

    account_id: Id
    customer_id: Id
    users: list[SnapshotUserV1] = Field(max_length=1_000_000)
    analytics_enabled: bool | None = None
    at: Instant


@event("platform.user_count.reported", 1)
class UserCountReportedV1(Contract):
    """A partner's enterprise-voice-enabled users at a metering point `at` (for user packs)."""

    account_id: Id
    count: Count
    at: Instant


@event("platform.metering.request", 1)
class RequestMeteringV1(Contract):
    """Command to auto-provisioning: report the user counts of metering point `at` now."""

    at: Instant
