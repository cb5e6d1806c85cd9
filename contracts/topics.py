"""The platform's topics. Keys are billing account ids unless a topic says otherwise."""

from __future__ import annotations

from contracts.registry import Topic

PROVISIONING_COMMANDS = Topic(
    name="provisioning.commands",
    description="Commands to provisioning: the same operations as the Onboarding API.",
    messages=("provisioning.feature.provision", "provisioning.feature.remove",
              "provisioning.account.open", "provisioning.customer.provision",
              "provisioning.customer.remove", "provisioning.brand.declare_ready",
              "provisioning.region.activate", "provisioning.partner.onboard",
              "provisioning.termination.request"),
    producers=("partner systems", "auto_provisioning"),
    consumers=("provisioning",),
)
PROVISIONING_EVENTS = Topic(
    name="provisioning.events",
    description="What was provisioned, removed or terminated, and when.",
    messages=("provisioning.account.opened", "provisioning.feature.provisioned",
              "provisioning.feature.removed", "provisioning.catalog.published",
              "provisioning.customer.provisioned", "provisioning.customer.removed",
              "provisioning.brand.ready", "provisioning.region.activated",
              "provisioning.partner.onboarded", "provisioning.termination.scheduled",
              "provisioning.account.settings_changed"),
    producers=("provisioning",),
    consumers=("rating", "auto_provisioning", "invoicing", "prepaid_credit", "disputes"),
)
USAGE_RECORDS = Topic(
    name="usage.records",
    description="Usage records from the communication platforms (fax pages, minutes, numbers).",
    messages=("usage.recorded",),
    producers=("platform integrations", "rating"),  # rating: the records of its POST /v1/usage
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
    description="Rated charges per account and run, then the run's summary (keyed by month); "
                "prepaid accounts' usage debits per local midnight.",
    messages=("rating.charges.rated", "rating.run.rated", "rating.prepaid_usage.rated"),
    producers=("rating",),
    consumers=("invoicing", "prepaid_credit"),
)
REJECTIONS = Topic(
    name="platform.rejections",
    description="Commands refused with a reason code; nothing changed.",
    messages=("command.rejected",),
    producers=("provisioning", "rating", "disputes"),
    consumers=("partner systems",),
)
PLATFORM_USERS = Topic(
    name="platform.users",
    description="Users of each customer's communication platform: changes and full snapshots.",
    messages=("platform.user.added", "platform.user.removed", "platform.user.voice_enabled",
              "platform.user.voice_disabled", "platform.analytics.enabled",
              "platform.analytics.disabled", "platform.users.snapshot"),
    producers=("platform integrations",),
    consumers=("auto_provisioning",),
)
AUTO_PROVISIONING_COMMANDS = Topic(
    name="auto_provisioning.commands",
    description="Commands to auto-provisioning: report a metering point's user counts now.",
    messages=("platform.metering.request",),
    producers=("operators", "invoicing"),
    consumers=("auto_provisioning",),
)
USER_COUNTS = Topic(
    name="platform.user-counts",
    description="Each partner's enterprise-voice-enabled users at its metering points (user packs).",
    messages=("platform.user_count.reported",),
    producers=("auto_provisioning",),
    consumers=("rating",),
)

INVOICING_EVENTS = Topic(
    name="invoicing.events",
    description="Invoices issued, paid and overdue, and their amounts; payments recorded or refused; card "
                "surcharges; credit notes and refunds.",
    messages=("invoicing.invoice.issued", "invoicing.invoice.paid", "invoicing.invoice.overdue",
              "invoicing.payment.recorded", "invoicing.payment.rejected", "invoicing.surcharge.charged",
              "invoicing.invoice.amounts_changed", "invoicing.credit_note.issued", "invoicing.refund.issued",
              "invoicing.refund.paid_out", "invoicing.refund.overdue"),
    producers=("invoicing",),
    consumers=("partner systems", "disputes"),
)
DISPUTES_COMMANDS = Topic(
    name="disputes.commands",
    description="Commands to disputes: open and resolve, the same operations as its HTTP API. Key: the "
                "dispute id, so that one dispute's commands stay in order.",
    key="dispute id",
    messages=("disputes.dispute.open", "disputes.dispute.resolve"),
    producers=("partner systems", "operators"),
    consumers=("disputes",),
)
DISPUTES_EVENTS = Topic(
    name="disputes.events",
    description="Disputes of invoices opened, overdue (still open after their investigation deadline) and "
                "resolved (upheld with a credited amount, or rejected).",
    messages=("disputes.dispute.opened", "disputes.dispute.overdue", "disputes.dispute.resolved"),
    producers=("disputes",),
    consumers=("invoicing", "partner systems"),
)
PREPAID_CREDIT_EVENTS = Topic(
    name="prepaid_credit.events",
    description="Prepaid credits: vouchers redeemed, credits debited and expired, low balance, exhausted.",
    messages=("prepaid_credit.voucher.redeemed", "prepaid_credit.credit.debited",
              "prepaid_credit.credit.expired", "prepaid_credit.balance.low",
              "prepaid_credit.balance.exhausted"),
    producers=("prepaid_credit",),
    consumers=("partner systems",),
)

ALL: tuple[Topic, ...] = (PROVISIONING_COMMANDS, PROVISIONING_EVENTS, USAGE_RECORDS, RATING_REQUESTS,
                          RATING_CHARGES,
                          REJECTIONS, PLATFORM_USERS, AUTO_PROVISIONING_COMMANDS, USER_COUNTS,
                          INVOICING_EVENTS, DISPUTES_COMMANDS, DISPUTES_EVENTS, PREPAID_CREDIT_EVENTS)


def by_name(name: str) -> Topic:
    for topic in ALL:
        if topic.name == name:
            return topic
    raise KeyError(name)
