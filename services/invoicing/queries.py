"""Read side of invoicing: invoices, runs with their reconciliation, statements, CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from services.invoicing import amounts, balances, credits, customers, domain, money_store, quarantine, store
from services.invoicing.payments import NotFound
from shared.calendar import local_midnight
from shared.money import quantum

LINE_COLUMNS = ("part_number", "product_name", "subscription_id", "from", "to", "quantity", "unit_price",
                "price_version", "days", "month_days", "amount", "rule", "late", "explanation", "customer_id")
USAGE_COLUMNS = ("record_id", "part_number", "quantity", "used_at", "received_at")


def _money(value: Decimal, currency: str) -> str:
    """An amount as decimal text in `currency`'s minor units: amounts are stored rounded already,
    so this only writes a stored 0 (an unpaid invoice's `paid_total`, an empty month) as `0.00`,
    as the invoice's `amounts` and the events write it, not `0`."""
    return str(value.quantize(quantum(currency)))


def _invoice(row: asyncpg.Record, with_lines: bool = False) -> dict:
    cur = row["currency"]
    out = {"invoice_number": row["invoice_number"], "issuer": row["issuer"], "account_id": row["account_id"],
           "month": row["month"], "run_id": row["run_id"], "currency": row["currency"],
           "issue_date": row["issue_date"].isoformat(), "due_date": row["due_date"].isoformat(),
           "total": _money(row["total"], cur), "paid_total": _money(row["paid_total"], cur),
           "surcharge_total": _money(row["surcharge_total"], cur), "status": row["status"],
           # section 7: due (total - credited) + surcharges - paid net of refunds
           "outstanding": _money(row["total"] - row["credited_total"] + row["surcharge_total"]
                                 - row["paid_total"] + row["refunded_total"], cur)}
    if with_lines:
        out["lines"] = row["lines"]
    return out


async def invoice(conn: asyncpg.Connection, number: str, group_by: str | None = None,
                  now: datetime | None = None) -> dict:
    """An invoice with its lines, payments, surcharges, credit notes, refunds and its section 7
    `amounts` at `now`; `group_by="customer"` adds `customers` (see customers.by_customer) for a
    reseller billing its own customers."""
    row = await conn.fetchrow(store.GET_INVOICE, number)
    if row is None:
        raise NotFound("unknown_invoice", f"no invoice {number}")
    out = _invoice(row, with_lines=True)
    if now is not None:
        zone = await conn.fetchval(amounts.ZONE_OF_INVOICE, number)
        out["amounts"] = amounts.amounts_json(amounts.amounts_of(row, zone, now), row["disputed_open"],
                                             row["currency"])
    notes = await conn.fetch(money_store.INVOICE_CREDIT_NOTES, number)
    out["credit_notes"] = [credits.credit_note_json(c) for c in notes]
    out["refunds"] = [credits.refund_json(r, now) for r in await conn.fetch(money_store.INVOICE_REFUNDS, number)]
    if group_by == "customer":
        out["customers"] = customers.by_customer(out["lines"])
    out["payments"] = [{"payment_id": p["payment_id"], "amount": _money(p["amount"], row["currency"]),
                        "method": p["method"], "paid_at": p["paid_at"].isoformat()}
                       for p in await conn.fetch(store.INVOICE_PAYMENTS, number)]
    out["surcharges"] = [{"surcharge_id": s["surcharge_id"], "payment_id": s["payment_id"],
                          "amount": _money(s["amount"], row["currency"]), "charged_at": s["charged_at"].isoformat()}
                         for s in await conn.fetch(store.INVOICE_SURCHARGES, number)]
    return out


async def account(conn: asyncpg.Connection, account_id: str) -> asyncpg.Record:
    row = (await store.accounts_by_id(conn, [account_id])).get(account_id)
    if row is None:
        raise NotFound("unknown_account", f"no account {account_id}")
    return row


async def account_invoices(conn: asyncpg.Connection, account_id: str) -> list[dict]:
    await account(conn, account_id)
    return [_invoice(r) for r in await conn.fetch(store.LIST_INVOICES, account_id)]


async def run_status(conn: asyncpg.Connection, run_id: str, now: datetime) -> dict:
    row = await conn.fetchrow(store.GET_RUN, run_id)
    if row is None:
        raise NotFound("unknown_run", f"no run {run_id}")
    return await _run(conn, row, now)


async def runs(conn: asyncpg.Connection, month: str | None, now: datetime) -> list[dict]:
    return [await _run(conn, r, now) for r in await conn.fetch(store.LIST_RUNS, month)]


async def runs_within(conn: asyncpg.Connection, month: str | None, accounts: set[str], now: datetime) -> list[dict]:
    """The runs a partner may see: those of named accounts, all of them within `accounts`."""
    return [await _run(conn, r, now) for r in await conn.fetch(store.LIST_RUNS_WITHIN, month, list(accounts))]


async def _run(conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> dict:
    received = {r["currency"]: (r["invoices"], r["total"]) for r in await conn.fetch(store.RUN_RECEIVED, row["run_id"])}
    summary = row["summary"]
    expected = {c: Decimal(t) for c, t in (summary or {}).get("totals", {}).get("invoice", {}).items()}
    held = await quarantine.open_of_run(conn, row["run_id"])
    rec = domain.reconcile(summary["invoice_accounts"] if summary else None, expected if summary else None,
                           received, row["empty_accounts"], row["summary_at"], now, quarantined=held,
                           rating_quarantined=(summary or {}).get("quarantined_accounts", 0),
                           failure=(summary or {}).get("failure"))
    return {"run_id": row["run_id"], "month": row["month"], "status": rec.status,
            "requested_at": row["requested_at"].isoformat() if row["requested_at"] else None,
            "requested_by": row["requested_by"],
            "account_ids": len(row["account_ids"]) if row["account_ids"] is not None else "all",
            "summary": summary,
            "invoices": sum(n for n, _ in received.values()),
            "accounts_without_lines": row["empty_accounts"],
            "expected_invoice_accounts": rec.expected_accounts,
            "expected_totals": {c: _money(t, c) for c, t in rec.expected_totals.items()},
            "received_totals": {c: _money(t, c) for c, t in rec.received_totals.items()},
            "problems": list(rec.problems),
            "quarantined": await _quarantined(conn, row["run_id"], summary)}


async def _quarantined(conn: asyncpg.Connection, run_id: str, summary: dict | None) -> list[dict]:
    """The accounts the run set aside, and why: in rating (not rated; a re-rate bills them) and
    here (rated, but no invoice could be issued; a re-invoice issues it). `invoice` is the
    account's invoice for the month once it exists (the set-aside account was billed after all)."""
    rated_aside = (summary or {}).get("quarantined", [])
    since = await quarantine.invoices_of(conn, [q["account_id"] for q in rated_aside], (summary or {}).get("month"))
    out = [{"account_id": q["account_id"], "stage": "rating", "reason": q["reason"], "error": q["error"],
            "invoice": since.get(q["account_id"])} for q in rated_aside]
    for q in await quarantine.of_run(conn, run_id):
        out.append({"account_id": q["account_id"], "stage": "invoicing", "reason": q["reason"], "error": q["error"],
                    "currency": q["currency"], "total": _money(q["total"], q["currency"]),
                    "invoice": q["resolved_invoice"]})
    return out


async def statement(conn: asyncpg.Connection, account_id: str, month: str) -> dict:
    """The account's statement for `month` (calendar month in its zone), section 7: balance forward
    (everything before the month), new charges (invoices and surcharges), payments, credit notes,
    refunds, closing = forward + new charges - payments - credit notes + refunds; items listed."""
    acc = await account(conn, account_id)
    start = date(*domain.parse_month(month), 1)
    end = date(*domain.next_month(domain.parse_month(month)), 1)
    tz = acc["time_zone"]
    items = []
    for since, until in ((None, start), (start, end)):
        charges, payments = await store.statement_items(conn, account_id, since, until, tz)
        credits_ = await conn.fetch(money_store.STATEMENT_CREDITS, account_id, since, until, tz)
        items.append((charges, payments, credits_))
    (b_charges, b_payments, b_credits), (charges, payments, credits_) = items
    before = [balances.StatementItem(r["kind"], r["on_date"], r["amount"]) for r in [*b_charges, *b_credits]] + \
        [balances.StatementItem("payment", r["on_date"], r["amount"]) for r in b_payments]
    mine = [balances.StatementItem(r["kind"], r["on_date"], r["amount"], r["ref"]) for r in [*charges, *credits_]] + \
        [balances.StatementItem("payment", r["on_date"], r["amount"], r["ref"]) for r in payments]
    st = balances.statements(before + mine, domain.parse_month(month), domain.parse_month(month))[0]
    cur = acc["currency"]
    return {"account_id": account_id, "month": month, "currency": acc["currency"],
            "balance_forward": _money(st.balance_forward, cur), "new_charges": _money(st.new_charges, cur),
            "payments": _money(st.payments, cur), "credit_notes": _money(st.credit_notes, cur),
            "refunds": _money(st.refunds, cur),
            "closing_balance": _money(st.closing_balance, cur),
            "charges": [{"kind": r["kind"], "ref": r["ref"], "date": r["on_date"].isoformat(),
                         "amount": _money(r["amount"], cur)} for r in charges],
            "payment_items": [{"payment_id": r["ref"], "invoice_number": r["invoice_number"],
                               "method": r["method"], "date": r["on_date"].isoformat(),
                               "amount": _money(r["amount"], cur)} for r in payments],
            "credit_note_items": [_credit_item(r, cur) for r in credits_ if r["kind"] == "credit_note"],
            "refund_items": [_credit_item(r, cur) for r in credits_ if r["kind"] == "refund"]}


def _credit_item(r: asyncpg.Record, currency: str) -> dict:
    return {"ref": r["ref"], "invoice_number": r["invoice_number"], "dispute_id": r["dispute_id"],
            "date": r["on_date"].isoformat(), "amount": _money(r["amount"], currency)}


STATEMENT_COLUMNS = ("date", "kind", "ref", "invoice_number", "dispute_id", "amount", "balance")


def statement_csv(st: dict) -> str:
    """A statement as CSV: the balance forward, one row per item in date order with the running
    balance (charges and refunds add, payments and credit notes subtract), then the closing."""
    rows = [{"date": f"{st['month']}-01", "kind": "balance_forward", "amount": st["balance_forward"],
             "balance": st["balance_forward"]}]
    items = [{"kind": c["kind"], "ref": c["ref"], "date": c["date"], "amount": c["amount"]} for c in st["charges"]]
    items += [{"kind": "payment", "ref": p["payment_id"], "invoice_number": p["invoice_number"], "date": p["date"],
               "amount": p["amount"]} for p in st["payment_items"]]
    items += [{"kind": "credit_note", **c} for c in st["credit_note_items"]]
    items += [{"kind": "refund", **r} for r in st["refund_items"]]
    balance = Decimal(st["balance_forward"])
    for item in sorted(items, key=lambda i: (i["date"], i["kind"], i["ref"])):
        balance += balances.SIGN[item["kind"]] * Decimal(item["amount"])
        rows.append({**item, "balance": _money(balance, st["currency"])})
    rows.append({"date": rows[-1]["date"], "kind": "closing_balance", "amount": st["closing_balance"],
                 "balance": st["closing_balance"]})
    return _csv(STATEMENT_COLUMNS, rows)


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


async def lines_csv(conn: asyncpg.Connection, number: str) -> str:
    row = await conn.fetchrow(store.GET_INVOICE, number)
    if row is None:
        raise NotFound("unknown_invoice", f"no invoice {number}")
    return _csv(LINE_COLUMNS, row["lines"])


async def usage_csv(conn: asyncpg.Connection, account_id: str, start: date, end: date) -> str:
    """Usage records of the account used in [start, end), days in the account's zone."""
    acc = await account(conn, account_id)
    tz = acc["time_zone"]
    rows = await conn.fetch(store.USAGE_BETWEEN, account_id, local_midnight(start, tz), local_midnight(end, tz))
    return _csv(USAGE_COLUMNS, [{"record_id": r["record_id"], "part_number": r["part_number"],
                                 "quantity": str(r["quantity"]), "used_at": r["used_at"].isoformat(),
                                 "received_at": r["received_at"].isoformat()} for r in rows])
