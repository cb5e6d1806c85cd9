"""Loading the invariants' Snapshot from the services' schemas (as the admin) and invoicing's API."""

from __future__ import annotations

import json

import asyncpg

from cli.faults.invariants import Snapshot
from cli.faults.workload import Workload

QUERIES = {
    "rating_usage": "SELECT record_id, account_id FROM {p}rating.usage_records",
    "account_runs": "SELECT account_id, month, run_id, settlement, lines, total, currency FROM {p}rating.account_runs",
    "invoices": "SELECT invoice_number, issuer, sequence, account_id, month, run_id, total, lines, paid_total, "
                "surcharge_total, credited_total, refunded_total, disputed_open FROM {p}invoicing.invoices",
    "last_numbers": "SELECT issuer, last_number FROM {p}invoicing.number_sequences",
    "prepaid_accounts": "SELECT account_id, balance, shortfall FROM {p}prepaid_credit.accounts",
    "entries": "SELECT account_id, sequence, kind, change, balance, shortfall, ref FROM {p}prepaid_credit.entries",
    "lots": "SELECT lot, account_id, remaining FROM {p}prepaid_credit.lots",
    "draws": "SELECT account_id, sequence, lot, amount FROM {p}prepaid_credit.draws",
    "credit_notes": "SELECT credit_note_number, dispute_id, issuer, sequence, invoice_number, amount "
                    "FROM {p}invoicing.credit_notes",
    "credit_note_last_numbers": "SELECT issuer, last_number FROM {p}invoicing.credit_note_sequences",
    "refunds": "SELECT refund_id, dispute_id, invoice_number, amount FROM {p}invoicing.refunds",
    "disputes": "SELECT dispute_id, invoice_number, amount, outcome, credited FROM {p}disputes.disputes",
    # the Insights User licences auto_provisioning asked provisioning for (ins-<customer>-<user>-<n>)
    "licences": "SELECT subscription_id, account_id, customer_id, ended_at FROM {p}provisioning.subscriptions "
                "WHERE subscription_id LIKE 'ins-%'",
}


async def load(database_url: str, prefix: str, workload: Workload, run: dict,
               asked_disputes: dict[str, dict] | None = None) -> Snapshot:
    conn = await asyncpg.connect(database_url)
    try:
        rows = {name: [dict(r) for r in await conn.fetch(sql.format(p=prefix))] for name, sql in QUERIES.items()}
    finally:
        await conn.close()
    for invoice in rows["invoices"]:
        if isinstance(invoice["lines"], str):
            invoice["lines"] = json.loads(invoice["lines"])
    return Snapshot(
        sent_usage=workload.usage_sent(), postpaid_accounts=frozenset(workload.postpaid_accounts()),
        usage_parts=frozenset(workload.usage_parts()), run=run, asked_disputes=asked_disputes or {},
        licence_users=workload.licence_users(),
        last_numbers={r["issuer"]: r["last_number"] for r in rows.pop("last_numbers")},
        credit_note_last_numbers={r["issuer"]: r["last_number"] for r in rows.pop("credit_note_last_numbers")},
        **rows)
