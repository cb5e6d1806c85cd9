"""Events of the communication platforms (users, voice, analytics, full snapshots) and the user
counts auto-provisioning reports at metering points."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from contracts.envelope import Contract
from contracts.registry import event


@event("platform.user.added", 1)
class UserAddedV1(Contract):
    """A user was configured on a customer's communication platform at `at`."""

    account_id: str
    customer_id: str
    user_id: str
    voice_enabled: bool = False
    at: AwareDatetime


@event("platform.user.removed", 1)
class UserRemovedV1(Contract):
    """A user was removed from a customer's communication platform at `at`."""

    account_id: str
    customer_id: str
    user_id: str
    at: AwareDatetime


@event("platform.user.voice_enabled", 1)
class UserVoiceEnabledV1(Contract):
    """Enterprise voice was enabled for a user at `at` (the user exists)."""

    account_id: str
    customer_id: str
    user_id: str
    at: AwareDatetime


@event("platform.user.voice_disabled", 1)
class UserVoiceDisabledV1(Contract):
    """Enterprise voice was disabled for a user at `at` (the user exists)."""

    account_id: str
    customer_id: str
    user_id: str
    at: AwareDatetime


@event("platform.analytics.enabled", 1)
class AnalyticsEnabledV1(Contract):
    """Analytics was enabled for a customer at `at`: its users hold Insights User licences."""

    account_id: str
    customer_id: str
    at: AwareDatetime


@event("platform.analytics.disabled", 1)
class AnalyticsDisabledV1(Contract):
    """Analytics was disabled for a customer at `at`: its Insights User licences end."""

    account_id: str
    customer_id: str
    at: AwareDatetime


class SnapshotUserV1(Contract):
    """One user in a snapshot."""

    user_id: str
    voice_enabled: bool = False


@event("platform.users.snapshot", 1)
class UsersSnapshotV1(Contract):
    """Every user of a customer's platform as of `at`; anything known from before `at` yields
    to it. `analytics_enabled` is the customer's analytics flag then (None: not reported)."""

    account_id: str
    customer_id: str
    users: list[SnapshotUserV1]
    analytics_enabled: bool | None = None
    at: AwareDatetime


@event("platform.user_count.reported", 1)
class UserCountReportedV1(Contract):
    """A partner's enterprise-voice-enabled users at a metering point `at` (for user packs)."""

    account_id: str
    count: int = Field(ge=0)
    at: AwareDatetime


@event("platform.metering.request", 1)
class RequestMeteringV1(Contract):
    """Command to auto-provisioning: report the user counts of metering point `at` now."""

    at: AwareDatetime
