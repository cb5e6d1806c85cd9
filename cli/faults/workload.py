"""The fault suite's workload, drawn from a seed: accounts, subscriptions, usage (some records
sent twice), prepaid accounts with vouchers, a few accounts opened through provisioning whose
platform users hold licences, the disputes of a few invoices, and the month the run bills."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from contracts import wrap
from contracts.envelope import Envelope
from contracts.platform import AnalyticsEnabledV1, UserAddedV1
from contracts.provisioning import (
    AccountOpenedV1, CatalogPublishedV1, FeatureProvisionedV1, OpenAccountV1, ProductV1, ProvisionCustomerV1,
    ProvisionFeatureV1,
)
from contracts.usage import UsageRecordedV1

PRODUCTS = [
    ProductV1(part_number="XDM00001", name="Insights User", kind="recurring", unit_price=Decimal("12.00"),
              minimum_days=30),
    ProductV1(part_number="XDM00020", name="Wallboard", kind="recurring", unit_price=Decimal("150.00"),
              minimum_days=30),
    ProductV1(part_number="XDM00040", name="Call Recording", kind="recurring", unit_price=Decimal("9.99"),
              minimum_days=30),
    ProductV1(part_number="FAX-PAGE-OUT", name="Outbound fax page", kind="usage", unit_price=Decimal("0.05")),
]
RECURRING = [p.part_number for p in PRODUCTS if p.kind == "recurring"]
USAGE = [p.part_number for p in PRODUCTS if p.kind == "usage"]
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Pacific/Auckland")


@dataclass
class Account:
    account_id: str
    zone: str
    mode: str
    subscriptions: list[tuple[str, str, int]] = field(default_factory=list)  # id, part, quantity
    usage: list[tuple[str, Decimal, datetime]] = field(default_factory=list)  # record id, quantity, used at
    twice: set[str] = field(default_factory=set)                               # records sent twice
    voucher: Decimal | None = None                                             # prepaid: credits redeemed
    customer: str | None = None  # set: opened through provisioning's commands, with this customer
    users: list[tuple[str, datetime]] = field(default_factory=list)            # its platform users, added at


@dataclass(frozen=True)
class Dispute:
    """A dispute of an account's invoice: `share` of its total disputed, the invoice paid in full
    first or not, resolved `outcome` crediting `credit_share` of the disputed amount (upheld),
    over HTTP or as a command on disputes.commands (`via`)."""

    dispute_id: str
    account_id: str
    share: Decimal
    paid: bool
    outcome: str
    credit_share: Decimal
    via: str


# upheld and paid: a credit note and a refund; upheld unpaid: a credit note only; rejected: neither
_DISPUTES = (("upheld", True, Decimal("1")), ("upheld", False, Decimal("0.5")), ("rejected", True, Decimal("0")),
             ("upheld", True, Decimal("0.5")))


@dataclass
class Workload:
    """Facts dated in the month before `month`; the run of `month` bills them."""

    prefix: str
    month: str
    start: datetime
    accounts: list[Account]
    disputes: list[Dispute] = field(default_factory=list)

    @classmethod
    def draw(cls, rng: random.Random, prefix: str, now: datetime, accounts: int = 24, routed: int = 3,
             disputes: int = 4) -> "Workload":
        """`accounts` accounts (about one in six prepaid) opened on the 10th of last month, each
        with 1..3 subscriptions and 0..4 usage records in that month, one in five sent twice;
        `routed` invoiced ones opened through provisioning instead, each with a customer whose
        analytics is on the next day and 1..3 users added later (a licence each); `disputes`
        invoiced accounts dispute their invoice after the run."""
        this_month = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = this_month - relativedelta(months=1) + timedelta(days=9, hours=9)
        out = []
        for a in range(accounts):
            aid = f"{prefix}acct-{a:03d}"
            account = Account(aid, rng.choice(ZONES), "prepaid" if a % 6 == 5 else "subscription")
            for k in range(rng.randint(1, 3)):
                account.subscriptions.append((f"{aid}-s{k}", rng.choice(RECURRING), rng.randint(1, 5)))
            for u in range(rng.randint(0, 4)):
                rid = f"{aid}-u{u}"
                account.usage.append((rid, Decimal(rng.randint(1, 200)), start + timedelta(days=rng.randint(1, 15))))
                if rng.random() < 0.2:
                    account.twice.add(rid)
            if account.mode == "prepaid":
                account.voucher = Decimal(rng.choice((50, 500, 5000)))
            out.append(account)
        # drawn after the rest, so the accounts above stay what they were for a seed
        postpaid = [a for a in out if a.mode == "subscription"]
        for account in rng.sample(postpaid, min(routed, len(postpaid))):
            account.customer = f"{account.account_id}-c"
            account.users = [(f"u{k}", start + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 8)))
                             for k in range(rng.randint(1, 3))]
        asked = []
        for k, account in enumerate(rng.sample(postpaid, min(disputes, len(postpaid)))):
            outcome, paid, credit_share = _DISPUTES[k % len(_DISPUTES)]
            asked.append(Dispute(f"{account.account_id}-d", account.account_id,
                                 rng.choice((Decimal("0.1"), Decimal("0.5"), Decimal("1"))), paid, outcome,
                                 credit_share, ("http", "command")[k % 2]))
        return cls(prefix, f"{this_month:%Y-%m}", start, out, asked)

    def facts(self) -> tuple[list[Envelope], list[Envelope]]:
        """(provisioning events, usage records) to publish, in order; duplicates included. The
        routed accounts' events come from provisioning (`commands`). Accounts are opened without
        automatic runs: the suite requests the month's run once every fact is in, whereas
        invoicing's scheduler, on a restart after a kill mid-feed, would bill the month at once,
        before the usage arrives (which would go to next month's run)."""
        events = [wrap(CatalogPublishedV1(currency="USD", products=PRODUCTS, at=self.start), key="catalog",
                       producer="faults", occurred_at=self.start)]
        usage = []
        for account in self.accounts:
            for rid, quantity, used_at in account.usage:
                record = UsageRecordedV1(record_id=rid, account_id=account.account_id, part_number=USAGE[0],
                                         quantity=quantity, used_at=used_at, received_at=used_at)
                for _ in range(2 if rid in account.twice else 1):  # a platform's resend: a new event id
                    usage.append(wrap(record, key=account.account_id, producer="faults", occurred_at=used_at))
            if account.customer:
                continue
            opened = AccountOpenedV1(account_id=account.account_id, time_zone=account.zone, mode=account.mode,
                                     automatic_runs=False, at=self.start)
            events.append(wrap(opened, key=account.account_id, producer="faults", occurred_at=self.start))
            for sid, part, quantity in account.subscriptions:
                feature = FeatureProvisionedV1(account_id=account.account_id, subscription_id=sid, part_number=part,
                                               quantity=quantity, at=self.start)
                events.append(wrap(feature, key=account.account_id, producer="faults", occurred_at=self.start))
        return events, usage

    def commands(self) -> list[Envelope]:
        """The routed accounts' opening, customer and subscriptions, as commands to provisioning."""
        out = []
        for account in self.routed():
            aid = account.account_id
            commands = [OpenAccountV1(account_id=aid, time_zone=account.zone, mode=account.mode, automatic_runs=False,
                                      at=self.start),
                        ProvisionCustomerV1(account_id=aid, customer_id=account.customer, at=self.start)]
            commands += [ProvisionFeatureV1(account_id=aid, subscription_id=sid, part_number=part, quantity=quantity,
                                            at=self.start) for sid, part, quantity in account.subscriptions]
            out += [wrap(c, key=aid, producer="faults", occurred_at=self.start) for c in commands]
        return out

    def platform_users(self) -> list[Envelope]:
        """The routed accounts' customers: analytics on the day after opening, then their users."""
        out = []
        for account in self.routed():
            aid, on = account.account_id, self.start + timedelta(days=1)
            events = [AnalyticsEnabledV1(account_id=aid, customer_id=account.customer, at=on)]
            events += [UserAddedV1(account_id=aid, customer_id=account.customer, user_id=user, at=at)
                       for user, at in account.users]
            out += [wrap(e, key=aid, producer="faults", occurred_at=e.at) for e in events]
        return out

    def routed(self) -> list[Account]:
        return [a for a in self.accounts if a.customer]

    def licence_users(self) -> dict[tuple[str, str], str]:
        """(customer, user) -> account: each holds one Insights User licence."""
        return {(a.customer, user): a.account_id for a in self.routed() for user, _ in a.users}

    def usage_sent(self) -> dict[str, tuple[str, str, Decimal]]:
        return {rid: (a.account_id, USAGE[0], q) for a in self.accounts for rid, q, _ in a.usage}

    def postpaid_accounts(self) -> list[str]:
        return [a.account_id for a in self.accounts if a.mode == "subscription"]

    def usage_parts(self) -> list[str]:
        return list(USAGE)

    def prepaid(self) -> list[Account]:
        return [a for a in self.accounts if a.mode == "prepaid"]
