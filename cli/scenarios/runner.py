"""Run a validated scenario: provisioning rules, then each billing run through the pricing core."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from services.invoicing.domain import Invoice, assemble_invoice
from services.provisioning.commands import COMMANDS, Command
from services.provisioning.domain import ProductRule, ProvisioningState, Rejection, handle
from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, PriceBook, UsageRecord, as_month, billing_run, counts_known_at, metering_point,
    subscriptions_from_facts,
)
from services.rating.domain import product_from_dict
from shared.calendar import month_text

from . import money
from .model import MONEY_EVENTS, AccountModel, BillingRun, ScenarioModel, Usage, UserCount
from .prepaid import VOUCHER_EVENTS, PrepaidBook


def build_catalog(scenario: ScenarioModel) -> Catalog:
    """The pricing catalogue of a scenario, converted as the rating service converts its own."""
    return Catalog.of(scenario.catalog.currency,
                      [product_from_dict(p.model_dump(mode="json")) for p in scenario.catalog.products])


def _command(event) -> Command:
    """The typed provisioning command of a scenario event (its fields the command has)."""
    cls = COMMANDS[event.type]
    fields = {k: tuple(v) if isinstance(v, list) else v
              for k, v in event.model_dump(exclude={"type"}).items() if k in cls.__dataclass_fields__}
    return cls(**fields)


@dataclass
class Provisioned:
    """A scenario's events through provisioning's rules: the state, what was refused and
    reported, the runs' months in order, and each account's user counts and usage."""

    state: ProvisioningState
    rejections: list[dict] = field(default_factory=list)
    terminations: list[dict] = field(default_factory=list)
    runs: list[tuple[int, int]] = field(default_factory=list)
    counts: dict[str, list] = field(default_factory=dict)
    usage: dict[str, list[UsageRecord]] = field(default_factory=dict)
    money_events: list[tuple] = field(default_factory=list)  # version 2: (event index, payment or dispute)
    run_events: list[int] = field(default_factory=list)  # each run's event index


def provision(scenario: ScenarioModel) -> Provisioned:
    """Decide the scenario's provisioning in event order; billing runs are only noted (runs do not
    change provisioning, and each later sees only the facts dated before its metering point)."""
    out = Provisioned(ProvisioningState(
        accounts={a.id: a.time_zone for a in scenario.accounts},
        products={p.part_number: ProductRule(p.part_number, p.kind, p.termination, p.minimum_term_months,
                                             p.brand)
                  for p in scenario.catalog.products}),
        counts={a.id: [] for a in scenario.accounts}, usage={a.id: [] for a in scenario.accounts})
    until = scenario.until_or_last
    for index, event in enumerate(scenario.events):
        if event.at > until:
            break  # events after `until` are ignored (events are in time order)
        if isinstance(event, VOUCHER_EVENTS):
            continue  # version 2: prepaid.py
        if isinstance(event, BillingRun):
            out.runs.append(as_month(event.month))
            out.run_events.append(index)
            continue
        if isinstance(event, MONEY_EVENTS):  # payments and disputes: after the invoices exist
            out.money_events.append((index, event))
            continue
        outcome = handle(out.state, _command(event))
        if isinstance(outcome, Rejection):
            out.rejections.append({"event": index, "reason": outcome.reason})
            continue
        if isinstance(event, UserCount):
            out.counts[event.account].append((event.at, event.count))
        elif isinstance(event, Usage):
            out.usage[event.account].append(UsageRecord(event.id, event.part_number, Decimal(event.quantity),
                                                        event.used_at or event.at, event.at))
        elif outcome.termination is not None:  # the domain says which endings are reported
            sid, effective = outcome.termination
            out.terminations.append({"subscription": sid, "effective": effective.isoformat()})
    return out


def run_scenario(scenario: ScenarioModel) -> dict:
    """The scenario's result in the shape of its `expected` member (lines carry extra fields)."""
    p = provision(scenario)
    catalog = build_catalog(scenario)
    prepaid = PrepaidBook(scenario, catalog)
    ledgers = {a.id: EMPTY_LEDGER for a in scenario.accounts}
    invoices = []
    issued = []  # (the run's event index, invoice): money events after it may name the invoice
    for run, month in enumerate(p.runs):
        for account in scenario.accounts:
            is_prepaid = prepaid.is_prepaid(account.id)  # its usage is debited daily, never in a run
            invoice, ledgers[account.id] = run_account(
                p.state, catalog, account, month, p.counts[account.id],
                () if is_prepaid else p.usage[account.id], ledgers[account.id])
            if is_prepaid:
                prepaid.add_run(account.id, run, invoice.lines if invoice is not None else ())
            elif invoice is not None:
                invoices.append(invoice_json(invoice))
                issued.append((p.run_events[run], invoice))
    result = {"invoices": invoices, "terminations": p.terminations,
              "rejections": p.rejections + prepaid.rejections, **prepaid.result(p.usage)}
    until = scenario.until_or_last
    if until is not None:
        result.update(money.outcome(scenario, issued, p.money_events, until, result["rejections"]))
    return result


def subscription_facts(state: ProvisioningState, account_id: str) -> list[dict]:
    """The account's provisioned items as the facts rating stores (`FACT_KEYS`), so the preview
    maps them to subscriptions with the live service's own `subscriptions_from_facts`."""
    return [{"subscription_id": item.id, "account_id": item.account, "part_number": item.part_number,
             "kind": item.role, "started_at": item.created_at if item.role == "pack" else item.start,
             "quantity": item.quantity, "ended_at": item.end,
             "termination_requested_at": item.termination_requested_at,
             "termination_effective": item.termination_effective, "customer_id": item.customer,
             "full_brand_id": item.full_brand}
            for item in state.items.values() if item.account == account_id]


def run_account(state, catalog, account: AccountModel, month, counts, usage, ledger):
    """One account's run of `month` in the preview: its invoice (or None) and its next ledger."""
    mp = metering_point(month, account.time_zone)
    subscriptions = subscriptions_from_facts(subscription_facts(state, account.id), mp)
    book = account.price_book
    result = billing_run(month, Account(account.id, account.time_zone, catalog.currency), catalog, subscriptions,
                         counts_known_at(counts, mp, lambda c: c[0]), usage, ledger,
                         PriceBook(book.id, {k: Decimal(v) for k, v in book.prices.items()}) if book else None)
    invoice = assemble_invoice(account.id, month, catalog.currency, result.lines, account.payment_terms_days)
    return invoice, ledger.apply(result.ledger_update)


def _number(value: Decimal | int):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def invoice_json(invoice: Invoice) -> dict:
    """An invoice in the scenario output shape, lines with their explanation fields."""
    lines = []
    for line in invoice.lines:
        out = {} if line.subscription is None else {"subscription": line.subscription}
        out.update({
            "part_number": line.part_number, "from": line.from_date.isoformat(), "to": line.to_date.isoformat(),
            "quantity": _number(line.quantity), "amount": str(line.amount),
            "unit_price": None if line.unit_price is None else str(line.unit_price),
            "price_version": line.price_version, "days": line.days, "month_days": line.month_days,
            "rule": line.rule, "late": line.late, "explanation": line.explanation,
            "product_name": line.product_name, "customer": line.customer})
        lines.append(out)
    return {"account": invoice.account, "month": month_text(invoice.month), "currency": invoice.currency,
            "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
            "total": str(invoice.total), "lines": lines}
