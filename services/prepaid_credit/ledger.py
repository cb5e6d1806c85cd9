"""Credits in the database: accounts' `CreditState`s loaded (locked), the domain's steps saved
set-based (entries, lot draws, lots, state) with their notices through the outbox (a batch's
debits in one `prepaid_credit.credit.debited` v2 per partition)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from contracts.envelope import Envelope
from contracts.topics import PREPAID_CREDIT_EVENTS
from services.prepaid_credit import domain, store
from shared import outbox
from shared.outbox import partition_of
from shared.settings import Settings

_DEBITED = "prepaid_credit.credit.debited"
DEBITS_PER_EVENT = 1000  # a few hundred kB at most
_EVENT = {"redeemed": "prepaid_credit.voucher.redeemed", "usage": "prepaid_credit.credit.debited",
          "recurring": "prepaid_credit.credit.debited", "expired": "prepaid_credit.credit.expired",
          "low_balance": "prepaid_credit.balance.low", "exhausted": "prepaid_credit.balance.exhausted"}


def state_of(row: asyncpg.Record, lots: Sequence[asyncpg.Record]) -> domain.CreditState:
    """The domain's state of one account from its (locked) row and its lots holding credits."""
    return domain.CreditState(
        account=row["account_id"], time_zone=row["time_zone"], low_balance_threshold=row["low_balance_threshold"],
        lots=tuple(domain.Lot(r["lot"], r["redeemed_at"], r["expires_at"], r["credits"], r["remaining"], r["seq"])
                   for r in lots),
        shortfall=row["shortfall"], exhausted_armed=row["exhausted_armed"], next_seq=row["next_seq"],
        first_redeemed_at=row["first_redeemed_at"])


async def load(conn: asyncpg.Connection,
               account_ids: Sequence[str]) -> dict[str, tuple[asyncpg.Record, domain.CreditState]]:
    """The accounts among `account_ids` that exist, locked until the transaction ends, with their states."""
    rows = await store.lock_accounts(conn, sorted(set(account_ids)))
    lots = await store.holding_lots(conn, list(rows))
    return {aid: (row, state_of(row, lots[aid])) for aid, row in rows.items()}


@dataclass
class Book:
    """The steps of a batch, per account in order, saved in a few set-based statements."""

    settings: Settings
    states: dict[str, domain.CreditState] = field(default_factory=dict)
    through: dict[str, datetime] = field(default_factory=dict)
    entries: list[tuple] = field(default_factory=list)
    draws: list[tuple] = field(default_factory=list)
    lots: dict[str, tuple] = field(default_factory=dict)
    redeemed: set[str] = field(default_factory=set)  # lots of this batch's redemptions: new rows
    events: list[Envelope] = field(default_factory=list)
    # the partitions of prepaid_credit.events (None: the registry's count), and per partition the
    # debits of the batch event still open there (closed by any other notice on that partition)
    partitions: list[int] | None = None
    _open: dict[int, list[dict]] = field(default_factory=dict)

    def touch(self, state: domain.CreditState) -> None:
        """An account whose state is saved as it is unless a step changes it (its watermark moved)."""
        self.states.setdefault(state.account, state)

    def add(self, step: domain.Step, details: dict[str, dict] | None = None) -> None:
        """Record `step` (the account's state after it is the next step's start)."""
        state = step.state
        aid = state.account
        self.states[aid] = state
        for lot in step.lots:
            self.lots[lot.id] = (lot.id, aid, lot.credits, lot.remaining, lot.redeemed_at, lot.expires_at, lot.seq)
        settled = {e.ref: e for e in step.entries if e.kind == "shortfall_settled"}
        self.redeemed.update(e.ref for e in step.entries if e.kind == "redeemed")
        for e in step.entries:
            detail = (details or {}).get(e.ref)
            # the detail as the object it is (the jsonb codec writes it as JSON once; its text here
            # was stored as a JSON string holding the object, migration 0004 repairs those rows)
            self.entries.append((aid, e.seq, e.at, e.kind, e.amount, e.balance, e.shortfall, e.ref, detail or None))
            self.draws += [(aid, e.seq, d.lot, d.amount) for d in e.draws]
            payload = self._payload(aid, e, settled.get(e.ref) if e.kind == "redeemed" else None, detail)
            if payload is not None:
                self._notice(_EVENT[e.kind], aid, e.at, payload)
        for n in step.notices:
            payload = {"account_id": aid, "balance": str(n.balance), "at": n.at.isoformat()}
            if n.kind == "low_balance":
                payload["threshold"] = str(state.low_balance_threshold)
            else:
                payload["shortfall"] = str(state.shortfall)
            self._notice(_EVENT[n.kind], aid, n.at, payload)

    def _notice(self, event_type: str, aid: str, at: datetime, payload: dict) -> None:
        """A notice in order with the account's others: a debit joins the open debits of its
        account's partition (a new event when there is none), any other notice closes them."""
        parts = self.partitions or range(PREPAID_CREDIT_EVENTS.partitions)
        partition = partition_of(aid.encode(), parts)
        if event_type != _DEBITED:
            self._open.pop(partition, None)
            self.events.append(_envelope(event_type, aid, at, payload, self.settings.service))
            return
        debits = self._open.get(partition)
        if debits is None or len(debits) >= DEBITS_PER_EVENT:
            debits = self._open[partition] = []
            self.events.append(_envelope(event_type, aid, at, {"debits": debits}, self.settings.service, 2))
        debits.append(payload)

    def _payload(self, aid: str, e: domain.Entry, settled: domain.Entry | None, detail: dict | None) -> dict | None:
        if e.kind == "redeemed":
            lot = self.lots[e.ref]
            return {"account_id": aid, "voucher": e.ref, "lot": e.ref, "credits": str(e.amount),
                    "expires_at": lot[5].isoformat(), "settled": str(-settled.amount if settled else e.amount * 0),
                    "balance": str(settled.balance if settled else e.balance), "at": e.at.isoformat()}
        if e.kind in domain.DEBIT_KINDS:
            return {"account_id": aid, "kind": e.kind, "ref": e.ref,
                    "part_number": (detail or {}).get("part_number"), "amount": str(e.charged),
                    "shortfall": str(e.shortfall), "balance": str(e.balance), "sequence": e.seq,
                    "at": e.at.isoformat()}
        if e.kind == "expired":
            return {"account_id": aid, "lot": e.ref, "amount": str(-e.amount), "balance": str(e.balance),
                    "sequence": e.seq, "at": e.at.isoformat()}
        return None  # shortfall_settled: told by its redemption's event

    async def save(self, conn: asyncpg.Connection) -> None:
        new = [lot for lot in self.lots.values() if lot[0] in self.redeemed]
        if new:
            await conn.execute(store.INSERT_LOTS, *map(list, zip(*new)))
        drawn = [(lot[0], lot[3]) for lot in self.lots.values() if lot[0] not in self.redeemed]
        if drawn:
            await conn.execute(store.SAVE_LOTS, *map(list, zip(*drawn)))
        if self.entries:
            await conn.execute(store.INSERT_ENTRIES, *map(list, zip(*self.entries)))
        if self.draws:
            await conn.execute(store.INSERT_DRAWS, *map(list, zip(*self.draws)))
        if self.states:
            rows = [(aid, s.balance, s.shortfall, s.next_seq, s.exhausted_armed, s.first_redeemed_at,
                     self.through.get(aid)) for aid, s in sorted(self.states.items())]
            await conn.execute(store.SAVE_ACCOUNTS, *map(list, zip(*rows)))
        await outbox.add(conn, self.settings.topic(PREPAID_CREDIT_EVENTS.name), self.events)


def _envelope(event_type: str, key: str, at: datetime, payload: dict, producer: str, version: int = 1) -> Envelope:
    """An event of ours, built as plain JSON (the hot path of `billing bench prepaid`); tests
    check the payloads against the contracts."""
    return Envelope.model_construct(
        event_id=uuid.uuid4(), type=event_type, schema_version=version, occurred_at=at, producer=producer, key=key,
        correlation_id=None, causation_id=None, payload=payload)


async def redeem(conn: asyncpg.Connection, settings: Settings, account: asyncpg.Record, voucher: domain.Voucher,
                 at: datetime) -> dict:
    """Redeem a checked voucher for a locked account row: its lot, entries and notices saved."""
    state = state_of(account, (await store.holding_lots(conn, [account["account_id"]]))[account["account_id"]])
    step = domain.redeem(state, at, voucher)
    book = Book(settings)
    book.add(step)
    await conn.execute(store.MARK_REDEEMED, voucher.code, account["account_id"], at)
    await book.save(conn)
    lot = book.lots[voucher.code]
    return {"account_id": account["account_id"], "voucher": voucher.code, "credits": str(voucher.credits),
            "redeemed_at": at.isoformat(), "expires_at": lot[5].isoformat(), "balance": str(step.state.balance),
            "shortfall": str(step.state.shortfall),
            "entries": [entry_json(e) for e in step.entries]}


def entry_json(e: domain.Entry) -> dict:
    return {"sequence": e.seq, "at": e.at.isoformat(), "kind": e.kind, "amount": str(e.amount),
            "balance": str(e.balance), "shortfall": str(e.shortfall), "ref": e.ref,
            "draws": [{"lot": d.lot, "amount": str(d.amount)} for d in e.draws]}
