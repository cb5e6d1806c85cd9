"""Read side of prepaid_credit: an account's credit (balance, shortfall, estimate, lots, history) and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg

from services.prepaid_credit import domain, ledger, service, store
from services.prepaid_credit.vouchers import NotFound

HISTORY_COLUMNS = ("sequence", "at", "kind", "amount", "balance", "shortfall", "ref", "draws")
MAX_HISTORY = 10_000


def _entry(r: asyncpg.Record) -> domain.Entry:
    return domain.Entry(r["sequence"], r["at"], r["kind"], r["change"], r["balance"], r["shortfall"], (), r["ref"])


async def _account(conn: asyncpg.Connection, account_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(store.GET_ACCOUNT, account_id)
    if row is None:
        raise NotFound("unknown_account", f"no account {account_id}")
    return row


async def credit(conn: asyncpg.Connection, account_id: str, now: datetime, limit: int = 1000) -> dict:
    """The account's credit as of `now`: balance and shortfall, the remaining-lifetime estimate
    (section 8), the lots holding credits and the history newest first with the balance after
    each entry and the lots each one drew from."""
    row = await _account(conn, account_id)
    lots = (await store.holding_lots(conn, [account_id]))[account_id]
    state = ledger.state_of(row, lots)
    recent = [_entry(r) for r in await conn.fetch(store.RECENT_DEBITS, account_id, service.window_start(now), now)]
    estimate = domain.lifetime_estimate(recent, state.lots, now, row["time_zone"], row["first_redeemed_at"])
    history = await conn.fetch(store.HISTORY, account_id, limit)
    draws: dict[int, list[dict]] = {}
    for d in await conn.fetch(store.HISTORY_DRAWS, account_id, [h["sequence"] for h in history]):
        draws.setdefault(d["sequence"], []).append({"lot": d["lot"], "amount": str(d["amount"])})
    return {
        "account_id": account_id, "mode": row["mode"], "currency": row["currency"], "as_of": now.isoformat(),
        "balance": str(state.balance), "shortfall": str(state.shortfall),
        "low_balance_threshold": str(row["low_balance_threshold"]),
        "lifetime_estimate": estimate.isoformat() if estimate else None,
        "lots": [{"lot": lot.id, "credits": str(lot.credits), "remaining": str(lot.remaining),
                  "redeemed_at": lot.redeemed_at.isoformat(), "expires_at": lot.expires_at.isoformat()}
                 for lot in state.lots],
        "history": [{"sequence": h["sequence"], "at": h["at"].isoformat(), "kind": h["kind"],
                     "amount": str(h["change"]), "balance": str(h["balance"]), "shortfall": str(h["shortfall"]),
                     "ref": h["ref"], "detail": h["detail"], "draws": draws.get(h["sequence"], [])}
                    for h in history],
    }


def _cell(value: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ as a formula: such text gets a quote first."""
    return "'" + value if value[:1] in ("=", "+", "@") else value


async def history_csv(conn: asyncpg.Connection, account_id: str) -> str:
    """The account's whole history, newest first, one row per entry (draws as `lot:amount;...`)."""
    await _account(conn, account_id)
    history = await conn.fetch(store.HISTORY, account_id, MAX_HISTORY)
    draws: dict[int, list[str]] = {}
    for d in await conn.fetch(store.HISTORY_DRAWS, account_id, [h["sequence"] for h in history]):
        draws.setdefault(d["sequence"], []).append(f"{d['lot']}:{d['amount']}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for h in history:
        writer.writerow([h["sequence"], h["at"].isoformat(), h["kind"], h["change"], h["balance"], h["shortfall"],
                         _cell(h["ref"]), ";".join(draws.get(h["sequence"], []))])
    return out.getvalue()
