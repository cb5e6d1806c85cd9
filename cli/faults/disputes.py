"""The workload's disputes, after the run: each drawn account pays its invoice (or not), disputes
part of it through the disputes service and has it resolved, over HTTP or disputes.commands."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from contracts import wrap
from contracts.disputes import ResolveDisputeV1
from cli.faults.platform import Platform
from cli.faults.workload import Dispute, Workload
from shared.money import round_money

CENT = Decimal("0.01")
INVOICE = 'SELECT invoice_number, total, currency FROM "{p}invoicing".invoices WHERE account_id = $1 AND month = $2'


async def dispute(platform: Platform, db, workload: Workload) -> dict[str, dict]:
    """Pay, open and resolve the workload's disputes; what was asked of each, by dispute id
    (`invoice_number`, `amount`, `outcome`, `credited`), for the invariants. An account without
    an invoice is skipped (run_reconciled reports it)."""
    asked, commands = {}, []
    for plan in workload.disputes:
        invoice = await db.fetchrow(INVOICE.format(p=platform.prefix), plan.account_id, workload.month)
        if invoice is None:
            continue
        number, total, currency = invoice["invoice_number"], Decimal(invoice["total"]), invoice["currency"]
        amount = max(CENT, round_money(total * plan.share, currency))
        credited = Decimal("0")
        if plan.outcome == "upheld":
            credited = max(CENT, round_money(amount * plan.credit_share, currency))
        if plan.paid:  # by bank transfer: no surcharge, so what a credit leaves overpaid is refunded
            await _expect(platform, "invoicing", "POST", f"/v1/invoices/{number}/payments", (200, 201), json={
                "amount": str(total), "method": "bank_transfer", "payment_id": f"{plan.dispute_id}-pay",
                "paid_at": datetime.now(timezone.utc).isoformat()})
        opened = await _expect(platform, "disputes", "POST", "/v1/disputes", (200, 201), json={
            "dispute_id": plan.dispute_id, "invoice_number": number, "amount": str(amount), "reason": "fault suite"})
        resolution = _resolution(plan, credited)
        if plan.via == "http":  # a repeat after a lost answer is already_resolved: the first one stands
            await _expect(platform, "disputes", "POST", f"/v1/disputes/{plan.dispute_id}/resolution", (200, 409),
                          json=resolution)
        else:
            at = max(datetime.fromisoformat(opened["received_at"]), datetime.now(timezone.utc))
            command = ResolveDisputeV1(dispute_id=plan.dispute_id, resolved_at=at, **resolution)
            commands.append(wrap(command, key=plan.dispute_id, producer="faults", occurred_at=command.resolved_at))
        asked[plan.dispute_id] = {"invoice_number": number, "amount": amount, "outcome": plan.outcome,
                                  "credited": credited}
    if commands:
        await platform.publish("disputes.commands", [(e.key, e.encode()) for e in commands])
    return asked


def _resolution(plan: Dispute, credited: Decimal) -> dict:
    if plan.outcome == "rejected":
        return {"outcome": "rejected"}
    return {"outcome": "upheld", "credited": str(credited)}


async def _expect(platform: Platform, service: str, method: str, path: str, statuses: tuple[int, ...],
                  **kwargs) -> dict:
    response = await platform.call(service, method, path, **kwargs)
    if response.status_code not in statuses:
        raise RuntimeError(f"{service} {method} {path}: {response.status_code} {response.text[:500]}")
    return response.json()
