"""The platform's topics. Keys are billing account ids unless a topic says otherwise."""

from __future__ import annotations

from contracts.registry import Topic

PROVISIONING_COMMANDS = Topic(
    name="provisioning.commands",
    description="Commands to provisioning: the same operations as the Onboarding API.",
    messages=("provisioning.feature.provision",),
    producers=("partner systems", "auto_provisioning"),
    consumers=("provisioning",),
)
PROVISIONING_EVENTS = Topic(
    name="provisioning.events",
    description="What was provisioned, removed or terminated, and when.",
    messages=("provisioning.account.opened", "provisioning.feature.provisioned",
              "provisioning.feature.removed"),
    producers=("provisioning",),
    consumers=("rating",),
)
USAGE_RECORDS = Topic(
    name="usage.records",
    description="Usage records from the communication platforms (fax pages, minutes, numbers).",
    messages=("usage.recorded",),
    producers=("platform integrations",),
    consumers=("rating", "invoicing"),
)
RATING_REQUESTS = Topic(
    name="rating.requests",
    description="Billing-run requests (from the invoicing scheduler or an operator). Key: the month.",
    key="month (YYYY-MM)",
    partitions=1,
    messages=("rating.run.request",),
    producers=("invoicing", "operators"),
    consumers=("rating",),
)
RATING_CHARGES = Topic(
    name="rating.charges",
    description="Rated charges per account and run, then the run's summary (keyed by month).",
    messages=("rating.charges.rated", "rating.run.rated"),
    producers=("rating",),
    consumers=("invoicing", "prepaid_credit"),
)
REJECTIONS = Topic(
    name="platform.rejections",
    description="Commands refused with a reason code; nothing changed.",
    messages=("command.rejected",),
    producers=("provisioning",),
    consumers=("partner systems",),
)

ALL: tuple[Topic, ...] = (PROVISIONING_COMMANDS, PROVISIONING_EVENTS, USAGE_RECORDS, RATING_REQUESTS,
                          RATING_CHARGES,
                          REJECTIONS)


def by_name(name: str) -> Topic:
    for topic in ALL:
        if topic.name == name:
            return topic
    raise KeyError(name)
