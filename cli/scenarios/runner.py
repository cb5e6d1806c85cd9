"""Run a validated scenario: provisioning rules, then each billing run through the pricing core."""

from __future__ import annotations

from decimal import Decimal

from services.invoicing.domain import Invoice, assemble_invoice
from services.provisioning.commands import COMMANDS, Command
from services.provisioning.domain import ProductRule, ProvisioningState, Rejection, handle, pack_start_of
from services.rating.pricing import (
    EMPTY_LEDGER, Account, Catalog, PriceBook, Subscription, UsageRecord,
    as_month, billing_run, counts_known_at, metering_point,
)

from services.rating.domain import product_from_dict

from .model import AccountModel, BillingRun, ScenarioModel, Usage, UserCount
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


def run_scenario(scenario: ScenarioModel) -> dict:
    """The scenario's result in the shape of its `expected` member (lines carry extra fields)."""
    state = ProvisioningState(
        accounts={a.id: a.time_zone for a in scenario.accounts},
        products={p.part_number: ProductRule(p.part_number, p.kind, p.termination, p.minimum_term_months)
                  for p in scenario.catalog.products})
    rejections, terminations, runs = [], [], []
    counts: dict[str, list] = {a.id: [] for a in scenario.accounts}
    usage: dict[str, list[UsageRecord]] = {a.id: [] for a in scenario.accounts}
    until = scenario.until_or_last
    # Provisioning is decided in event order; runs do not change it, and each run later sees
    # only the facts dated before its own metering point (a delayed run gives the on-time result).
    for index, event in enumerate(scenario.events):
        if event.at > until:
            break  # events after `until` are ignored (events are in time order)
        if isinstance(event, VOUCHER_EVENTS):
            continue  # version 2: prepaid.py
        if isinstance(event, BillingRun):
            runs.append(as_month(event.month))
            continue
        outcome = handle(state, _command(event))
        if isinstance(outcome, Rejection):
            rejections.append({"event": index, "reason": outcome.reason})
            continue
        if isinstance(event, UserCount):
            counts[event.account].append((event.at, event.count))
        elif isinstance(event, Usage):
            usage[event.account].append(UsageRecord(event.id, event.part_number, Decimal(event.quantity),
                                                    event.used_at or event.at, event.at))
        elif outcome.termination is not None:  # the domain says which endings are reported
            sid, effective = outcome.termination
            terminations.append({"subscription": sid, "effective": effective.isoformat()})
    catalog = build_catalog(scenario)
    prepaid = PrepaidBook(scenario, catalog)
    ledgers = {a.id: EMPTY_LEDGER for a in scenario.accounts}
    invoices = []
    for run, month in enumerate(runs):
        for account in scenario.accounts:
            is_prepaid = prepaid.is_prepaid(account.id)  # its usage is debited daily, never in a run
            invoice, ledgers[account.id] = _run_account(state, catalog, account, month, counts[account.id],
                                                        () if is_prepaid else usage[account.id], ledgers[account.id])
            if is_prepaid:
                prepaid.add_run(account.id, run, invoice.lines if invoice is not None else ())
            elif invoice is not None:
                invoices.append(invoice_json(invoice))
    return {"invoices": invoices, "terminations": terminations, "rejections": rejections + prepaid.rejections,
            **prepaid.result(usage)}


def _run_account(state, catalog, account: AccountModel, month, counts, usage, ledger):
    mp = metering_point(month, account.time_zone)
    subscriptions = []
    for item in state.items.values():
        if item.account != account.id:
            continue
        start = pack_start_of(state, item) if item.role == "pack" else item.start
        if start is None or start >= mp:
            continue
        requested = item.termination_requested_at
        subscriptions.append(Subscription(
            item.id, item.account, item.part_number, start, item.quantity,
            end=item.end if item.end is not None and item.end < mp else None,
            termination_effective=item.termination_effective if requested is not None and requested < mp else None,
            customer=item.customer))
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
    year, month = invoice.month
    return {"account": invoice.account, "month": f"{year:04d}-{month:02d}", "currency": invoice.currency,
            "issue_date": invoice.issue_date.isoformat(), "due_date": invoice.due_date.isoformat(),
            "total": str(invoice.total), "lines": lines}
