"""Who may do what on Kafka: one principal per service (and one for the platform integrations),
its ACLs derived from the topics it produces and consumes, applied with the admin principal."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from contracts import topics as t
from contracts.registry import Topic, dead_letter_topic, redrive_topic

# The principal that platform integrations (usage meters, user directories) publish facts with.
INTEGRATION = "integration"


@dataclass(frozen=True)
class Access:
    """The topics a principal writes (its outbox) and reads (its subscriptions, with its group)."""

    produces: tuple[Topic, ...]
    consumes: tuple[Topic, ...] = ()
    # consuming services park poison messages on <service>.dead-letter, and re-send a redriven
    # one to themselves on <service>.redrive (docs/dead-letters.md)
    dead_letter: bool = True


# Kept by hand next to each service's app.py and outbox writes; tests check it against both and
# against the registry (only rating may produce rating.charges). A new service adds its row.
ACCESS: dict[str, Access] = {
    "provisioning": Access(produces=(t.PROVISIONING_EVENTS, t.REJECTIONS),
                           consumes=(t.PROVISIONING_COMMANDS,)),
    "auto_provisioning": Access(produces=(t.PROVISIONING_COMMANDS, t.USER_COUNTS),
                                consumes=(t.PLATFORM_USERS, t.PROVISIONING_EVENTS, t.AUTO_PROVISIONING_COMMANDS)),
    # usage.records: the records rating's POST /v1/usage accepts
    "rating": Access(produces=(t.RATING_CHARGES, t.REJECTIONS, t.USAGE_RECORDS),
                     consumes=(t.PROVISIONING_EVENTS, t.USAGE_RECORDS, t.USER_COUNTS, t.RATING_REQUESTS)),
    # the registry allows invoicing auto_provisioning.commands too; it sends none yet
    "invoicing": Access(produces=(t.INVOICING_EVENTS, t.RATING_REQUESTS),
                        consumes=(t.RATING_CHARGES, t.PROVISIONING_EVENTS, t.USAGE_RECORDS, t.DISPUTES_EVENTS)),
    "prepaid_credit": Access(produces=(t.PREPAID_CREDIT_EVENTS,), consumes=(t.RATING_CHARGES, t.PROVISIONING_EVENTS)),
    "disputes": Access(produces=(t.DISPUTES_EVENTS, t.REJECTIONS),
                       consumes=(t.DISPUTES_COMMANDS, t.INVOICING_EVENTS, t.PROVISIONING_EVENTS)),
    # the portal only calls the services' HTTP APIs: no topic of its own, nothing to read
    "portal": Access(produces=(), dead_letter=False),
    INTEGRATION: Access(produces=(t.USAGE_RECORDS, t.PLATFORM_USERS), dead_letter=False),
}


@dataclass(frozen=True)
class Grant:
    """One ALLOW ACL: `operation` on a literal resource (`topic`, `group` or `cluster`)."""

    resource: str
    name: str
    operation: str


def grants(principal: str, prefix: str = "", topics: Sequence[Topic] = t.ALL) -> list[Grant]:
    """The ACLs of `principal` on the topics and group named with `prefix` (a test namespace, or
    empty for the platform). Every principal may describe every platform topic (names and
    partition counts are not secret) and write idempotently; nothing else is implied."""
    access = ACCESS[principal]
    out = [Grant("cluster", "kafka-cluster", "IDEMPOTENT_WRITE")]
    out += [Grant("topic", prefix + topic.name, "DESCRIBE") for topic in topics]
    out += [Grant("topic", prefix + topic.name, "WRITE") for topic in access.produces]
    out += [Grant("topic", prefix + topic.name, "READ") for topic in access.consumes]
    if access.consumes:
        out.append(Grant("group", prefix + principal, "READ"))
    if access.dead_letter and access.consumes:
        dead = prefix + dead_letter_topic(principal)
        out += [Grant("topic", dead, "DESCRIBE"), Grant("topic", dead, "WRITE")]
        redrive = prefix + redrive_topic(principal)
        out += [Grant("topic", redrive, op) for op in ("DESCRIBE", "WRITE", "READ")]
    return out


def producers_of(topic: Topic) -> set[str]:
    return {principal for principal, access in ACCESS.items() if topic in access.produces}


def _bindings(principals: Iterable[str], prefix: str, filters: bool = False) -> list:
    from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                       ResourcePatternType, ResourceType)

    # librdkafka names Kafka's CLUSTER resource type BROKER
    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP, "cluster": ResourceType.BROKER}
    kind = AclBindingFilter if filters else AclBinding
    return [kind(kinds[g.resource], g.name, ResourcePatternType.LITERAL, f"User:{principal}", "*",
                 AclOperation[g.operation], AclPermissionType.ALLOW)
            for principal in principals for g in grants(principal, prefix)]


def apply(admin_config: dict[str, str], principals: Iterable[str], prefix: str = "",
          passwords: dict[str, str] | None = None, timeout: float = 30) -> None:
    """Create (or update) the SCRAM-SHA-512 users named in `passwords` and the ACLs of
    `principals`, connecting with `admin_config` (librdkafka settings of a super user).
    Both are idempotent: running it again changes nothing, or rotates the given passwords."""
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)

    admin = AdminClient(admin_config)
    if passwords:
        upserts = [UserScramCredentialUpsertion(user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192),
                                                password.encode())
                   for user, password in sorted(passwords.items())]
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(timeout)
    bindings = _bindings(principals, prefix)
    if bindings:
        for future in admin.create_acls(bindings).values():
            future.result(timeout)


def prune(admin_config: dict[str, str], principals: Iterable[str], prefix: str = "",
          timeout: float = 30) -> list[str]:
    """Delete the ACLs of `principals` on the platform's resources named with `prefix` that
    `grants` no longer gives them (a topic a service stopped producing, say), so that running
    `apply` then `prune` converges. ACLs on other names (another namespace) stay. Returns them."""
    from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                       ResourcePatternType, ResourceType)

    def key(b) -> tuple:
        return (b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type)

    principals = list(principals)
    ours = ({prefix + topic.name for topic in t.ALL} | {"kafka-cluster"}
            | {prefix + p for p in ACCESS} | {prefix + dead_letter_topic(p) for p in ACCESS}
            | {prefix + redrive_topic(p) for p in ACCESS})
    wanted = {key(b) for b in _bindings(principals, prefix)}
    admin = AdminClient(admin_config)

    def described() -> list:
        found = []
        for principal in principals:
            found += admin.describe_acls(AclBindingFilter(
                ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{principal}", None,
                AclOperation.ANY, AclPermissionType.ANY)).result(timeout)
        return found

    stale = [b for b in described() if b.name in ours and key(b) not in wanted]
    if stale:
        filters = [AclBindingFilter(*key(b)) for b in stale]
        for future in admin.delete_acls(filters).values():
            future.result(timeout)
        # the controller has committed the deletion; the broker's authorizer applies it a moment
        # later: return once describing no longer shows it, so that prune, then prune, finds nothing
        gone, deadline = {key(b) for b in stale}, time.monotonic() + timeout
        while any(key(b) in gone for b in described()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"deleted ACLs still listed after {timeout}s")
            time.sleep(0.1)
    return [f"{b.principal} {b.operation.name} {b.restype.name} {b.name}" for b in stale]


def revoke(admin_config: dict[str, str], principals: Iterable[str], prefix: str = "",
           timeout: float = 30) -> None:
    """Delete the ACLs `apply` gave `principals` on the topics named with `prefix`."""
    from confluent_kafka.admin import AdminClient

    admin, filters = AdminClient(admin_config), _bindings(principals, prefix, filters=True)
    if filters:
        for future in admin.delete_acls(filters).values():
            future.result(timeout)
