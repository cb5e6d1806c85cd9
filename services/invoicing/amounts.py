"""An invoice's section 7 amounts from its row's running sums and the clock, and their event."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from contracts.envelope import Envelope
from contracts.invoicing import InvoiceAmountsChangedV1, InvoiceAmountsV1
from services.invoicing import balances, store
from services.invoicing.service import wrap_event
from shared.money import quantum
from shared.settings import Settings

ZONE_OF_INVOICE = "SELECT coalesce(a.time_zone, 'UTC') FROM invoices i LEFT JOIN accounts a USING (account_id) " \
                  "WHERE i.invoice_number = $1"


def amounts_of(row: Any, time_zone: str, at: datetime) -> balances.Amounts:
    """The section 7 amounts of an invoice row (with its running sums) at `at`."""
    return balances.amounts(row["total"], row["credited_total"], row["paid_total"], row["refunded_total"],
                            row["surcharge_total"], row["disputed_open"],
                            balances.past_due(row["due_date"], time_zone, at))


def amounts_json(a: balances.Amounts, disputed_open: Decimal, currency: str) -> dict:
    """The amounts as decimal strings in the currency's minor units (sums of amounts already in
    them: the quantize only writes a stored 0 as 0.00)."""
    def text(value: Decimal) -> str:
        return str(value.quantize(quantum(currency)))
    return {"total": text(a.total), "credited": text(a.credited), "paid": text(a.paid), "due": text(a.due),
            "surcharges": text(a.surcharges), "outstanding": text(a.outstanding),
            "disputed_open": text(disputed_open), "overdue": text(a.overdue), "status": a.status}


async def amounts_changed(conn: asyncpg.Connection, settings: Settings, number: str, at: datetime,
                          now: datetime, cause: Envelope | None = None) -> Envelope:
    """The InvoiceAmountsChangedV1 of invoice `number` as it is now in this transaction."""
    row = await conn.fetchrow(store.GET_INVOICE, number)
    a = amounts_of(row, await conn.fetchval(ZONE_OF_INVOICE, number), at)
    money = {k: Decimal(v) for k, v in amounts_json(a, row["disputed_open"], row["currency"]).items() if k != "status"}
    payload = InvoiceAmountsChangedV1(invoice_number=number, account_id=row["account_id"], currency=row["currency"],
                                      amounts=InvoiceAmountsV1(**money, status=a.status, at=at))
    return wrap_event(payload, row["account_id"], settings, now, cause)
