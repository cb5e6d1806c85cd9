"""Loading the invariants' Snapshot from the services' schemas (as the admin) and invoicing's API."""

from __future__ import annotations

import json

import asyncpg

from cli.faults.invariants import Snapshot
from cli.faults.workload import Workload

QUERIES = {
    "rating_usage": "SELECT record_id, account_id FROM {p}rating.usage_records",
    "account_runs": "SELECT account_id, month, run_id, settlement, lines, total, currency FROM {p}rating.account_runs",
    "invoices": "SELECT invoice_number, issuer, sequence, account_id, month, run_id, total, lines "
                "FROM {p}invoicing.invoices",
    "last_numbers": "SELECT issuer, last_number FROM {p}invoicing.number_sequences",
    "prepaid_accounts": "SELECT account_id, balance, shortfall FROM {p}prepaid_credit.accounts",
    "entries": "SELECT account_id, sequence, kind, change, balance, shortfall, ref FROM {p}prepaid_credit.entries",
    "lots": "SELECT lot, account_id, remaining FROM {p}prepaid_credit.lots",
    "draws": "SELECT account_id, sequence, lot, amount FROM {p}prepaid_credit.draws",
    "credit_notes": "SELECT dispute_id, issuer, sequence FROM {p}invoicing.credit_notes",
    "refunds": "SELECT dispute_id FROM {p}invoicing.refunds",
}


async def load(database_url: str, prefix: str, workload: Workload, run: dict) -> Snapshot:
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
        usage_parts=frozenset(workload.usage_parts()), run=run,
        last_numbers={r["issuer"]: r["last_number"] for r in rows.pop("last_numbers")}, **rows)
