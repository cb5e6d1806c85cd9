"""Scenario version 2, prepaid parts: vouchers, daily usage debits, run debits, expiries, `credit` and `notices`.

`PrepaidBook(scenario, catalog)` decides the voucher events (refusals in `rejections`); the
runner hands it each run's lines of a prepaid account (runs leave its usage out) and the usage
records provisioning accepted; `result(usage)` then plays each prepaid account's credits as of
`until`, in time order, with prepaid_credit's own pure core, one instant at a time in section
8's order: the daily usage debit (at each local midnight after usage arrived), lot expiries,
then the events of that instant in file order (a run's debits, a redemption).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from services.prepaid_credit.domain import (
    Charge, CreditState, Entry, IssuedVoucher, Notice, Step, Voucher, VoucherRefused, check_issue, check_redemption,
    expire, lifetime_estimate, run_debit_instant, run_line_order, settle,
)
from services.rating.pricing import (
    Catalog, ChargeLine, PriceBook, UsageRecord, as_month, daily_usage, day_of, metering_point, zone,
)

from .model import AccountModel, BillingRun, ScenarioModel, VoucherIssued, VoucherRedeemed

VOUCHER_EVENTS = (VoucherIssued, VoucherRedeemed)


def line_order(line: ChargeLine) -> tuple:
    """The order a run's lines are debited in (the live service's: `run_line_order`)."""
    return run_line_order(line.from_date, line.subscription, line.part_number, line.to_date)


def instant_json(at: datetime) -> str:
    """An instant as RFC 3339 in UTC with `Z` (outputs compare as instants whatever the offset)."""
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class PrepaidBook:
    """The version-2 prepaid parts of one scenario: its voucher events (decided in event order as
    it is built), then each run's lines of its prepaid accounts, and the credits they make."""

    def __init__(self, scenario: ScenarioModel, catalog: Catalog) -> None:
        self.catalog = catalog
        self.until = scenario.until_or_last
        self.known_accounts = {a.id for a in scenario.accounts}
        self.accounts: dict[str, AccountModel] = {a.id: a for a in scenario.accounts if a.mode == "prepaid"}
        self.vouchers: dict[str, IssuedVoucher] = {}
        self.rejections: list[dict] = []
        self.runs: list[tuple[tuple[int, int], datetime, int]] = []  # (month, at, event index) of each run
        # per account: (at, event index, what) with what a Voucher (redemption) or a Charge (a run's line)
        self.events: dict[str, list[tuple[datetime, int, Voucher | Charge]]] = defaultdict(list)
        for index, event in enumerate(scenario.events):
            if self.until is not None and event.at > self.until:
                break  # events after `until` are ignored
            if isinstance(event, BillingRun):
                self.runs.append((as_month(event.month), event.at, index))
            elif isinstance(event, VOUCHER_EVENTS):
                reason = self._voucher_event(index, event)
                if reason is not None:
                    self.rejections.append({"event": index, "reason": reason})

    def is_prepaid(self, account_id: str) -> bool:
        return account_id in self.accounts

    def _voucher_event(self, index: int, event: VoucherIssued | VoucherRedeemed) -> str | None:
        """Apply a voucher event; its rejection reason, or None when accepted."""
        code = event.voucher
        try:
            if isinstance(event, VoucherIssued):
                voucher = check_issue(code, event.credits, event.lifetime_days, known=code in self.vouchers)
                self.vouchers[code] = IssuedVoucher(voucher, event.at)
                return None
            if event.account not in self.known_accounts:
                return "unknown_account"
            voucher = check_redemption(code, self.vouchers.get(code), self.is_prepaid(event.account))
        except VoucherRefused as refused:
            return refused.reason
        self.vouchers[code] = IssuedVoucher(voucher, self.vouchers[code].issued_at, event.account, event.at)
        self.events[event.account].append((event.at, index, voucher))
        return None

    def add_run(self, account_id: str, run: int, lines: tuple[ChargeLine, ...]) -> None:
        """The scenario's `run`-th billing run (0-based, as the runner counts them) rated a prepaid
        account's `lines`: one debit each, at the run's instant as the live service dates it
        (`run_debit_instant`: the run event's `at`, or the metering point for a run event before it)."""
        month, at, index = self.runs[run]
        tz = self.accounts[account_id].time_zone
        at = run_debit_instant(metering_point(month, tz), at)
        for line in sorted(lines, key=line_order):
            ref = f"{line.subscription or line.part_number} {line.from_date.isoformat()}..{line.to_date.isoformat()}"
            self.events[account_id].append((at, index, Charge(line.amount, ref)))

    def result(self, usage: dict[str, list[UsageRecord]]) -> dict:
        """The `credit` (one per prepaid account) and `notices` outputs as of `until`, with each
        account's accepted `usage` records debited at the local midnights after they arrived."""
        credit, notices = [], []
        for account in self.accounts.values():
            step = self._play(account, usage.get(account.id, []))
            credit.append(_credit_json(account, step, self.until))
            notices += [_notice_json(account.id, n) for n in step.notices]
        return {"credit": credit, "notices": notices}

    def _midnights(self, account: AccountModel, records: list[UsageRecord]) -> set[datetime]:
        """The local midnights at which usage is debited: the first after each record's arrival."""
        tz, until = zone(account.time_zone), self.until
        out = set()
        for rec in records:
            day = day_of(rec.arrived_at, tz) + timedelta(days=1)
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
            if until is None or midnight <= until:
                out.add(midnight)
        return out

    def _play(self, account: AccountModel, records: list[UsageRecord]) -> Step:
        state = CreditState(account.id, account.time_zone, Decimal(account.low_balance_threshold))
        step = Step(state)
        until = self.until
        events = sorted((e for e in self.events.get(account.id, ()) if until is None or e[0] <= until),
                        key=lambda e: (e[0], e[1]))
        midnights = self._midnights(account, records)
        book = account.price_book
        price_book = PriceBook(book.id, {k: Decimal(v) for k, v in book.prices.items()}) if book else None
        units: dict = {}
        debited: frozenset[str] = frozenset()
        for at in sorted(midnights | {e[0] for e in events}):
            usage: list[Charge] = []
            if at in midnights:
                day = daily_usage(at, account.time_zone, self.catalog, records, units, debited, price_book)
                units, debited = {**units, **day.units}, debited | day.record_ids
                usage = [Charge(d.amount, f"{d.part_number} {d.month[0]:04d}-{d.month[1]:02d}") for d in day.debits]
            step = step.then(settle(step.state, at, usage, [what for when, _, what in events if when == at]))
        if until is not None:
            step = step.then(expire(step.state, until))
        return step


def _entry_json(entry: Entry) -> dict:
    out = {"at": instant_json(entry.at), "kind": entry.kind, "amount": str(entry.amount),
           "balance": str(entry.balance)}
    if entry.shortfall:
        out["shortfall"] = str(entry.shortfall)
    return out


def _credit_json(account: AccountModel, step: Step, until: datetime | None) -> dict:
    state = step.state
    estimate = None if until is None else lifetime_estimate(
        step.entries, state.lots, until, account.time_zone, state.first_redeemed_at)
    return {"account": account.id, "balance": str(state.balance), "shortfall": str(state.shortfall),
            "lifetime_estimate": None if estimate is None else estimate.isoformat(),
            "history": [_entry_json(e) for e in step.entries]}


def _notice_json(account_id: str, notice: Notice) -> dict:
    return {"account": account_id, "kind": notice.kind, "at": instant_json(notice.at),
            "balance": str(notice.balance)}
