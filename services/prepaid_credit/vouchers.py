"""Voucher use cases: issue a batch (codes from `secrets`), list them, redeem one into a lot."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.prepaid_credit import ledger, store
from services.prepaid_credit.domain import vouchers as rules
from shared.refusal import Refused
from shared.settings import Settings

# Codes people read off a card and type: no 0/O, 1/I/L, 5/S, 2/Z, 8/B look-alikes. 12 characters
# of 25 symbols: about 55 bits, so a guessed code is never anyone's.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
CODE_LENGTH = 12
MAX_BATCH = 10_000


class NotFound(Refused, LookupError):
    """What the caller may not see or that does not exist: a 404, as for another partner's."""

    status = 404


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class Batch:
    """What to issue: `count` generated codes, or the given `codes` (vouchers sold elsewhere)."""

    credits: Decimal
    lifetime_days: int
    count: int = 0
    codes: Sequence[str] = ()
    issuer: str | None = None  # the partner account issuing them; None: the operator


async def issue(conn: asyncpg.Connection, batch: Batch, now: datetime) -> dict:
    """Issue a batch in one transaction: every code checked (`invalid_voucher`), a given code
    already issued (or twice in the batch) refuses the whole batch with `duplicate_voucher`;
    generated codes that collide with existing ones are drawn again."""
    batch_id = f"b-{uuid.uuid4().hex[:16]}"
    async with conn.transaction():
        if batch.codes:
            known = {r["code"] for r in await conn.fetch(store.EXISTING_CODES, list(batch.codes))}
            seen: set[str] = set()
            for code in batch.codes:
                rules.check_issue(code, batch.credits, batch.lifetime_days, code in known or code in seen)
                seen.add(code)
            inserted = await _insert(conn, list(batch.codes), batch_id, batch, now)
            if len(inserted) != len(batch.codes):  # issued meanwhile by another request
                raise rules.VoucherRefused("duplicate_voucher", "a code of the batch was issued meanwhile")
            codes = list(batch.codes)
        else:
            rules.check_voucher(new_code(), batch.credits, batch.lifetime_days)
            codes = []
            while len(codes) < batch.count:
                drawn = list({new_code() for _ in range(batch.count - len(codes))})
                codes += await _insert(conn, drawn, batch_id, batch, now)
    return {"batch_id": batch_id, "issuer": batch.issuer, "credits": str(batch.credits),
            "lifetime_days": batch.lifetime_days, "issued_at": now.isoformat(), "codes": codes}


async def _insert(conn: asyncpg.Connection, codes: list[str], batch_id: str, batch: Batch,
                  now: datetime) -> list[str]:
    rows = await conn.fetch(store.INSERT_VOUCHERS, codes, batch_id, batch.issuer, batch.credits,
                            batch.lifetime_days, now)
    return [r["code"] for r in rows]


def voucher_json(r: asyncpg.Record) -> dict:
    return {"code": r["code"], "batch_id": r["batch_id"], "issuer": r["issuer"], "credits": str(r["credits"]),
            "lifetime_days": r["lifetime_days"], "issued_at": r["issued_at"].isoformat(),
            "state": "redeemed" if r["redeemed_by"] else "issued", "redeemed_by": r["redeemed_by"],
            "redeemed_at": r["redeemed_at"].isoformat() if r["redeemed_at"] else None}


async def listing(conn: asyncpg.Connection, issuers: list[str] | None, batch_id: str | None, state: str | None,
                  limit: int) -> list[dict]:
    return [voucher_json(r) for r in await conn.fetch(store.LIST_VOUCHERS, issuers, batch_id, state, limit)]


async def redeem(conn: asyncpg.Connection, settings: Settings, code: str, account_id: str, at: datetime,
                 reaches) -> dict:
    """Redeem `code` for `account_id` at `at`, in one transaction: the account row, then the
    voucher row, locked (of 20 concurrent redemptions of one code, the first to lock the voucher
    wins and the others see it redeemed); refusals in section 8's order, changing nothing. A
    voucher a partner issued redeems only within its tree (`reaches(issuer, account)`): elsewhere
    it is unknown. Returns the lot and the account's new balance."""
    async with conn.transaction():
        accounts = await store.lock_accounts(conn, [account_id])
        account = accounts.get(account_id)
        if account is None:
            raise NotFound("unknown_account", f"no account {account_id}")
        row = await conn.fetchrow(store.LOCK_VOUCHER, code) if rules.valid_code(code) else None
        if row is not None and row["issuer"] is not None and not await reaches(row["issuer"], account_id):
            row = None
        issued = None if row is None else rules.IssuedVoucher(
            rules.Voucher(row["code"], row["credits"], row["lifetime_days"]), row["issued_at"],
            row["redeemed_by"], row["redeemed_at"])
        prepaid = await conn.fetchval(store.MODE_AT, account_id, at) == "prepaid"
        voucher = rules.check_redemption(code, issued, prepaid)
        return await ledger.redeem(conn, settings, account, voucher, at)
