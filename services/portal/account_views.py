"""Pure shaping of the backends' JSON for the credit, Account Portal and disputes pages (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

# prepaid_credit's entry kinds (docs/prepaid_credit.md) as a person reads them
ENTRY_KINDS = {
    "redeemed": "Voucher redeemed", "usage": "Usage", "recurring": "Monthly charge",
    "expired": "Credits expired", "shortfall_settled": "Shortfall settled",
}
DISPUTE_STATES = {"open": "Open", "overdue": "Overdue", "upheld": "Upheld", "rejected": "Rejected"}
CENT = Decimal("0.01")


def local_time(instant: str | None, zone: str) -> str:
    """An RFC 3339 instant as `YYYY-MM-DD HH:MM` on the wall clock of `zone` ('' for none)."""
    if not instant:
        return ""
    return datetime.fromisoformat(instant).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def positive(amount: str | None) -> bool:
    """Whether a decimal string from an API is above zero ("0", "0.00" and None are not)."""
    try:
        return amount is not None and Decimal(amount) > 0
    except InvalidOperation:
        return False


@dataclass(frozen=True)
class LedgerRow:
    """One credit history entry as the page lists it (newest first, balance after the entry)."""

    sequence: int
    at: str
    kind: str
    amount: str
    balance: str
    shortfall: str
    ref: str
    lots: str


def ledger_rows(history: list[dict], zone: str) -> list[LedgerRow]:
    """prepaid_credit's history (already newest first, each with the balance after it) as rows."""
    return [LedgerRow(h["sequence"], local_time(h["at"], zone), ENTRY_KINDS.get(h["kind"], h["kind"]),
                      h["amount"], h["balance"], h["shortfall"], h.get("ref") or "",
                      ", ".join(f"{d['lot']} {d['amount']}" for d in h.get("draws", [])))
            for h in history]


def feature_products(catalog: dict) -> list[dict]:
    """The catalogue products a customer's feature may be: not packs, and not the brands and
    regions (those end at a month end and are declared by the platforms, not provisioned here)."""
    return [p for p in catalog.get("products", [])
            if p.get("kind") in ("recurring", "usage") and p.get("termination", "immediate") == "immediate"]


def active(item: dict) -> bool:
    """Whether a customer or subscription still takes changes (not ended, no termination pending)."""
    return item.get("billing_state", {}).get("state") == "active"


@dataclass(frozen=True)
class InvoiceLine:
    """An invoice line the dispute form offers: its 1-based position and what it bills over
    [start, end) (dates; the page shows the last day, `end` less one)."""

    position: int
    text: str
    customer: str
    start: str
    end: str
    amount: str


def invoice_lines(invoice: dict) -> list[InvoiceLine]:
    """The invoice's lines numbered from 1, as disputes names them (`lines`)."""
    out = []
    for n, line in enumerate(invoice.get("lines", []), start=1):
        name = line.get("product_name") or line.get("part_number", "")
        text = f"{name} ({line.get('part_number', '')}) × {line.get('quantity', '')}"
        out.append(InvoiceLine(n, text, line.get("customer_id") or "", str(line.get("from", "")),
                               str(line.get("to", "")), str(line.get("amount", ""))))
    return out


def chosen_positions(values: list[str], count: int) -> list[int] | None:
    """The ticked line positions (form values), sorted; None when one is not a line of the invoice."""
    try:
        positions = sorted({int(v) for v in values})
    except ValueError:
        return None
    return positions if all(1 <= p <= count for p in positions) else None


def dispute_amount(typed: str, lines: list[InvoiceLine], positions: list[int]) -> str:
    """The disputed amount: as typed, else the sum of the chosen lines (a blank form field means
    'the lines I ticked'); '' when neither gives one (disputes then refuses the empty amount)."""
    typed = typed.strip()
    if typed:
        return typed
    try:
        total = sum((Decimal(lines[p - 1].amount) for p in positions), Decimal(0))
    except (InvalidOperation, IndexError):
        return ""
    return str(total.quantize(CENT)) if positions and total > 0 else ""


def disputable(invoice: dict) -> str:
    """What may still be disputed: the invoice's due amount less its open disputes (section 9)."""
    amounts = invoice.get("amounts") or {}
    try:
        return str(Decimal(amounts["due"]) - Decimal(amounts.get("disputed_open", "0")))
    except (KeyError, InvalidOperation):
        return ""


def resolution(dispute: dict, invoice: dict | None) -> dict:
    """A resolved dispute's outcome with the credit note and refund invoicing issued for it."""
    invoice = invoice or {}
    mine = [c for c in invoice.get("credit_notes", []) if c.get("dispute_id") == dispute["dispute_id"]]
    refunds = [r for r in invoice.get("refunds", []) if r.get("dispute_id") == dispute["dispute_id"]]
    return {"outcome": dispute.get("outcome"), "credited": dispute.get("credited"),
            "resolved_at": dispute.get("resolved_at"), "late": dispute.get("late", False),
            "credit_notes": mine, "refunds": refunds}
