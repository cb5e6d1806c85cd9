"""Version 2 scenarios, money after the invoice: payments, disputes, credit notes, refunds,
invoice balances and statements, by the rules the live invoicing service uses (services.invoicing.balances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.disputes import domain as disputes
from services.disputes.domain import Dispute, DisputeRefused
from services.invoicing import balances as money
from services.invoicing.balances import ZERO, StatementItem
from services.invoicing.domain import Invoice, PaymentRefused, check_payment, month_text

from .model import DisputeOpened, DisputeResolved, Payment, ScenarioModel

@dataclass
class _Invoice:
    invoice: Invoice
    time_zone: str
    payments: list[tuple[datetime, Decimal]] = field(default_factory=list)
    surcharges: list[tuple[datetime, Decimal]] = field(default_factory=list)
    credit_notes: list[tuple[datetime, Decimal, str]] = field(default_factory=list)
    refunds: list[tuple[datetime, Decimal, str]] = field(default_factory=list)

    def amounts(self, open_disputed: Decimal, at: datetime) -> money.Amounts:
        inv = self.invoice
        return money.amounts(inv.total, sum((c[1] for c in self.credit_notes), ZERO),
                             sum((p[1] for p in self.payments), ZERO), sum((r[1] for r in self.refunds), ZERO),
                             sum((s[1] for s in self.surcharges), ZERO), open_disputed,
                             money.past_due(inv.due_date, self.time_zone, at))

    def items(self) -> list[StatementItem]:
        def day(at: datetime):
            return at.astimezone(ZoneInfo(self.time_zone)).date()
        return ([StatementItem("invoice", self.invoice.issue_date, self.invoice.total)]
                + [StatementItem("surcharge", day(at), a) for at, a in self.surcharges]
                + [StatementItem("payment", day(at), a) for at, a in self.payments]
                + [StatementItem("credit_note", day(at), a, d) for at, a, d in self.credit_notes]
                + [StatementItem("refund", day(at), a, d) for at, a, d in self.refunds])


def _utc(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class _Book:
    """The invoices, payments and disputes of one scenario, event by event."""

    def __init__(self, scenario: ScenarioModel) -> None:
        self.scenario = scenario
        self.zones = {a.id: a.time_zone for a in scenario.accounts}
        self.invoices: dict[tuple[str, str], _Invoice] = {}
        self.disputes: dict[str, Dispute] = {}
        self.calendar = disputes.IssuerCalendar.of(scenario.issuer.time_zone, scenario.issuer.holidays)
        self.payment_ids: set[str] = set()

    def of_invoice(self, key: tuple[str, str]) -> list[Dispute]:
        return [d for d in self.disputes.values() if (d.account_id, d.invoice_number) == key]

    def invoice(self, account: str, month: str) -> _Invoice:
        found = self.invoices.get((account, month))
        if found is None:
            raise PaymentRefused("unknown_invoice", f"no invoice of {account} for {month}")
        return found

    def pay(self, e: Payment) -> None:
        if e.id is not None and e.id in self.payment_ids:
            return  # the same payment again (an idempotency key, as the live service takes it): no change
        inv = self.invoice(e.account, e.month)
        amount, currency = Decimal(e.amount), inv.invoice.currency
        check_payment(e.method, amount, currency, inv.amounts(ZERO, e.at).outstanding, currency)
        inv.payments.append((e.at, amount))
        if e.id is not None:
            self.payment_ids.add(e.id)
        surcharge = money.surcharge_of(inv.invoice.total, e.method, amount, currency)
        if surcharge:
            inv.surcharges.append((e.at, surcharge))

    def open(self, e: DisputeOpened) -> None:
        inv = self.invoice(e.account, e.month)
        disputes.check_unused_id(e.dispute, self.disputes.get(e.dispute))
        # the runner names an invoice by account and month: that pair stands for its number
        facts = disputes.InvoiceFacts(e.month, e.account, "issuer", inv.invoice.currency,
                                      inv.amounts(ZERO, e.at).due)
        other_open = [d.amount for d in self.of_invoice((e.account, e.month)) if d.is_open]
        self.disputes[e.dispute] = disputes.open_dispute(e.dispute, facts, Decimal(e.amount), e.reason, e.at,
                                                         self.calendar, other_open)

    def resolve(self, e: DisputeResolved) -> None:
        dispute = self.disputes.get(e.dispute)
        if dispute is None:
            raise DisputeRefused("unknown_dispute", f"no dispute {e.dispute}")
        resolved = disputes.resolve(dispute, e.outcome, e.at, None if e.credit is None else Decimal(e.credit))
        self.disputes[e.dispute] = resolved
        inv = self.invoices[(resolved.account_id, resolved.invoice_number)]
        credit = resolved.credited
        if credit:
            inv.credit_notes.append((e.at, credit, e.dispute))
            now = inv.amounts(ZERO, e.at)
            refund = money.refund_after_credit(now.due, now.surcharges, now.paid)
            if refund:
                inv.refunds.append((e.at, refund, e.dispute))


def outcome(scenario: ScenarioModel, issued: list[tuple[int, Invoice]], events: list, until: datetime,
            rejections: list[dict]) -> dict:
    """The version-2 outputs as of `until`; money events refused are added to `rejections`.
    `issued`: (index of the billing_run event, invoice); an invoice exists for events after it."""
    book = _Book(scenario)
    pending = sorted(issued, key=lambda item: item[0])
    for index, event in events:
        while pending and pending[0][0] < index:
            invoice = pending.pop(0)[1]
            book.invoices[(invoice.account, month_text(invoice.month))] = _Invoice(invoice, book.zones[invoice.account])
        try:
            {Payment: book.pay, DisputeOpened: book.open, DisputeResolved: book.resolve}[type(event)](event)
        except (PaymentRefused, DisputeRefused) as refused:
            rejections.append({"event": index, "reason": refused.reason})
    for _, invoice in pending:
        book.invoices[(invoice.account, month_text(invoice.month))] = _Invoice(invoice, book.zones[invoice.account])
    return {"invoice_balances": _balances(book, until), "statements": _statements(book, until),
            "credit_notes": [{"account": k[0], "month": k[1], "dispute": d, "amount": str(a), "at": _utc(at)}
                             for k, inv in book.invoices.items() for at, a, d in inv.credit_notes],
            "refunds": [{"account": k[0], "month": k[1], "dispute": d, "amount": str(a),
                         "due_at": _utc(money.refund_due_at(at))}
                        for k, inv in book.invoices.items() for at, a, d in inv.refunds],
            "disputes": [_dispute(d, until) for d in book.disputes.values()]}


def _balances(book: _Book, until: datetime) -> list[dict]:
    out = []
    for key, inv in book.invoices.items():
        a = inv.amounts(disputes.held_back(book.of_invoice(key), until), until)
        out.append({"account": key[0], "month": key[1], "total": str(a.total), "credited": str(a.credited),
                    "paid": str(a.paid), "surcharges": str(a.surcharges), "outstanding": str(a.outstanding),
                    "overdue": str(a.overdue), "status": a.status})
    return out


def _statements(book: _Book, until: datetime) -> list[dict]:
    out = []
    for account in book.scenario.accounts:
        mine = [inv for (acc, _), inv in book.invoices.items() if acc == account.id]
        if not mine:
            continue
        first = min(inv.invoice.issue_date for inv in mine)
        months = money.statement_months(first, until, account.time_zone)
        items = [item for inv in mine for item in inv.items()]
        for st in money.statements(items, *months):
            out.append({"account": account.id, "month": month_text(st.month),
                        "balance_forward": str(st.balance_forward), "new_charges": str(st.new_charges),
                        "payments": str(st.payments), "credit_notes": str(st.credit_notes),
                        "refunds": str(st.refunds), "closing_balance": str(st.closing_balance)})
    return out


def _dispute(d: Dispute, until: datetime) -> dict:
    return {"dispute": d.dispute_id, "account": d.account_id, "month": d.invoice_number, "amount": str(d.amount),
            "credited": None if d.credited is None else str(d.credited),
            "due_at": _utc(d.due_at), "status": disputes.status_at(d, until), "late": d.late}
