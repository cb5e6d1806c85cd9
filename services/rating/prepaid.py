"""Prepaid accounts' daily usage debits: at each local midnight, rate the usage that arrived before
it and was not debited yet, and publish one item per account and midnight, in batches
(`PrepaidUsageRatedV2`)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal

import asyncpg

from contracts.envelope import Envelope, build_envelope
from contracts.topics import RATING_CHARGES
from services.rating import daily, domain, ledger_store, store
from services.rating.pricing import PriceBook, UsageDebit, UsageRecord, daily_usage, zone
from services.rating.pricing.calendar import month_info
from shared import outbox, task_failures
from shared.outbox import by_partition
from shared.settings import Settings

log = logging.getLogger(__name__)

TASK = "prepaid_usage"  # its name in task_failures
_TYPE = "rating.prepaid_usage.rated"
_VERSION = 2  # a batch of items (PrepaidUsageRatedV2)
BATCH_ITEMS = 1000  # items per event at most: a few hundred kB, well under Kafka's message limits

# a prepaid account opened (or known) from now on gets its first midnight
ADD_MIDNIGHT = """
INSERT INTO prepaid_midnights (account_id, next_midnight) VALUES ($1, $2) ON CONFLICT DO NOTHING
"""

# the accounts whose next midnight has passed; SKIP LOCKED: replicas of rating share the work
CLAIM_DUE = """
SELECT p.account_id, p.next_midnight, p.ends_at, a.time_zone, a.currency, a.price_book
FROM prepaid_midnights p JOIN accounts a USING (account_id)
WHERE p.next_midnight <= $1 AND (p.ends_at IS NULL OR p.next_midnight <= p.ends_at)
LIMIT $2
FOR UPDATE OF p SKIP LOCKED
"""

SAVE_MODE_CHANGE = """
INSERT INTO mode_changes (account_id, effective_at, mode) VALUES ($1, $2, $3)
ON CONFLICT (account_id, effective_at) DO UPDATE SET mode = EXCLUDED.mode
"""
# to prepaid at T: midnights from T on (again, after an earlier switch away ended them)
START_MIDNIGHTS = """
INSERT INTO prepaid_midnights (account_id, next_midnight) VALUES ($1, $2)
ON CONFLICT (account_id) DO UPDATE SET ends_at = NULL,
    next_midnight = CASE WHEN prepaid_midnights.ends_at IS NOT NULL
                          AND prepaid_midnights.next_midnight > prepaid_midnights.ends_at
                         THEN greatest(EXCLUDED.next_midnight, prepaid_midnights.next_midnight)
                         ELSE prepaid_midnights.next_midnight END
"""
# to subscription at T: T's midnight is the last prepaid one (its usage arrived while prepaid);
# a prepaid period that had not begun (a cancelled switch) goes entirely
END_MIDNIGHTS = "UPDATE prepaid_midnights SET ends_at = $2 WHERE account_id = $1"
DROP_UNSTARTED = "DELETE FROM prepaid_midnights WHERE account_id = $1 AND next_midnight >= $2"

# the mode in force at each account's metering point of a run's month (its latest switch before)
MODES_AT = """
SELECT DISTINCT ON (c.account_id) c.account_id, c.mode FROM mode_changes c JOIN accounts a USING (account_id)
WHERE c.account_id = ANY($1::text[]) AND c.effective_at <= make_timestamptz($2, $3, 1, 0, 0, 0, a.time_zone)
ORDER BY c.account_id, c.effective_at DESC
"""
# whether any account of an id range ever switched mode
ANY_SWITCH = "SELECT EXISTS (SELECT 1 FROM mode_changes WHERE account_id BETWEEN $1 AND $2)"

SAVE_MIDNIGHTS = """
UPDATE prepaid_midnights p SET next_midnight = v.next
FROM unnest($1::text[], $2::timestamptz[]) AS v(account_id, next) WHERE p.account_id = v.account_id
"""

# rated_month holds the local day of the midnight that debited the record: runs never see it again
MARK_DEBITED = """
UPDATE usage_records u SET rated_month = v.day
FROM unnest($1::text[], $2::text[]) AS v(record_id, day)
WHERE u.record_id = v.record_id AND u.rated_month IS NULL
"""


async def add_account(conn: asyncpg.Connection, account_id: str, time_zone: str, opened_at: datetime) -> None:
    await conn.execute(ADD_MIDNIGHT, account_id, daily.next_midnight(opened_at, time_zone))


async def switch_mode(conn: asyncpg.Connection, account_id: str, mode: str, effective_at: datetime) -> None:
    """A mode switch at `effective_at`: runs from there settle in `mode`; daily debits start or end."""
    await conn.execute(SAVE_MODE_CHANGE, account_id, effective_at, mode)
    if mode == "prepaid":
        await conn.execute(START_MIDNIGHTS, account_id, effective_at)
    else:
        await conn.execute(DROP_UNSTARTED, account_id, effective_at)
        await conn.execute(END_MIDNIGHTS, account_id, effective_at)


async def modes_in_force(conn: asyncpg.Connection, month: str, accounts: list) -> list:
    """`accounts` (rows of a run, in id order) with the mode in force at their metering point of
    `month`. Most chunks hold no switch at all: a look at their id range says so without sending
    their ids."""
    if not accounts or not await conn.fetchval(ANY_SWITCH, accounts[0]["account_id"], accounts[-1]["account_id"]):
        return accounts
    year, mon = int(month[:4]), int(month[5:7])
    switched = {r["account_id"]: r["mode"]
                for r in await conn.fetch(MODES_AT, [a["account_id"] for a in accounts], year, mon)}
    if not switched:
        return accounts
    return [{**dict(a), "mode": switched[a["account_id"]]} if a["account_id"] in switched else a for a in accounts]


async def debit_due_midnights(pool: asyncpg.Pool, settings: Settings, now: datetime, chunk: int = 2000,
                              partitions: Callable[[], Awaitable[list[int]]] | None = None) -> int:
    """One step, in one transaction: claim up to `chunk` prepaid accounts whose next local
    midnight is at or before `now`, price each midnight's usage (the records that arrived before
    it, not yet debited; tiers continue within the month of use after the units already debited)
    and publish it through the outbox with the records marked and the units added. Replay-safe: a
    record is debited once (rated_month), a midnight published once (next_midnight moves in the
    same transaction). An account whose data fails is skipped (task_failures) and retried next
    tick. The items go out in one event per partition of `rating.charges` their accounts' keys
    fall on (`partitions()`: the topic's partitions; by default the registry's count), so an
    account's items stay in order on its partition. Returns the accounts done, or -1 when none
    was due."""
    parts = sorted(await partitions()) if partitions else list(range(RATING_CHARGES.partitions))
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(CLAIM_DUE, now, chunk)
        if not due:
            return -1
        ids = [r["account_id"] for r in due]
        catalogs = domain.catalogs_from_rows(await conn.fetch(store.CATALOG))
        usage: dict[str, list[UsageRecord]] = defaultdict(list)
        for r in await conn.fetch(store.UNRATED_USAGE_OF, ids):
            usage[r["account_id"]].append(UsageRecord(r["record_id"], r["part_number"], r["quantity"],
                                                      r["used_at"], r["received_at"]))
        units: dict[str, dict] = defaultdict(dict)
        for r in await conn.fetch(store.USAGE_UNITS_OF, ids):
            units[r["account_id"]][(r["part_number"], r["usage_month"])] = r["units"]
        items, moved, debited, added, failed, done = [], [], [], defaultdict(Decimal), [], []
        for a in due:
            try:
                out = _account_days(a, catalogs, usage[a["account_id"]], units[a["account_id"]], now,
                                    settings.service)
            except Exception as exc:  # this account's data: skipped, the others go on
                failed.append((a["account_id"], exc))
                continue
            account_items, next_midnight, records, account_units = out
            items += account_items
            moved.append((a["account_id"], next_midnight))
            debited += records
            for key, n in account_units.items():
                added[(a["account_id"], *key)] += n
            done.append(a["account_id"])
        if moved:
            await conn.execute(SAVE_MIDNIGHTS, [m[0] for m in moved], [m[1] for m in moved])
        if debited:
            await conn.execute(MARK_DEBITED, [d[0] for d in debited], [d[1] for d in debited])
        await ledger_store.add_usage_units(conn, [(*k, n) for k, n in added.items()])
        await outbox.add(conn, settings.topic(RATING_CHARGES.name), batches(items, parts, settings.service, now))
        await task_failures.record(conn, TASK, failed, now)
        await task_failures.clear(conn, TASK, done)
        return len(done)


def _account_days(a, catalogs, records: list[UsageRecord], units: dict, now: datetime, producer: str):
    """One account's due midnights: (items, its next midnight, (record id, day) debited, units added)."""
    tz, currency = a["time_zone"], a["currency"]
    catalog = catalogs.get(currency)
    if catalog is None:
        raise LookupError(f"no catalogue in {currency} for account {a['account_id']}")
    book = a["price_book"]
    price_book = PriceBook(book["id"], {p: Decimal(v) for p, v in book["prices"].items()}) if book else None
    until = now if a["ends_at"] is None else min(now, a["ends_at"])
    midnights = daily.due_midnights(a["next_midnight"], until, tz)
    items, debited, added, done = [], [], defaultdict(Decimal), set()
    units = dict(units)
    for midnight in midnights:
        priced = daily_usage(midnight, tz, catalog, records, units, done, price_book)
        units.update(priced.units)
        for key, n in priced.units_added.items():
            added[key] += n
        day = midnight.astimezone(zone(tz)).date().isoformat()
        debited += [(rid, day) for rid in sorted(priced.record_ids)]
        done |= priced.record_ids
        lines = [_line(d, catalog) for d in priced.debits]
        items.append({"account_id": a["account_id"], "currency": currency, "time_zone": tz,
                      "at": midnight.isoformat(), "lines": lines, "total": str(priced.total),
                      "records": len(priced.record_ids)})
    return items, daily.next_midnight(midnights[-1], tz), debited, added


def _line(d: UsageDebit, catalog) -> dict:
    """A usage debit in the ChargeLineV1 wire shape (a usage line of its month of use)."""
    first, nxt, month_days = month_info(d.month)
    product = catalog.products.get(d.part_number)
    return {"subscription_id": None, "part_number": d.part_number,
            "product_name": (product.name if product else None) or "", "from": first.isoformat(),
            "to": nxt.isoformat(), "quantity": str(d.units),
            "unit_price": None if d.unit_price is None else str(d.unit_price),
            "price_version": d.price_version or "", "amount": str(d.amount), "days": None, "month_days": None,
            "rule": "usage", "late": False, "explanation": f"{d.part_number}: {d.explanation} = {d.amount}",
            "customer_id": None}


def batches(items: list[dict], partitions: list[int], producer: str, now: datetime) -> list[Envelope]:
    """The items (PrepaidUsageItemV1 wire shape, each account's in midnight order) as
    PrepaidUsageRatedV2 envelopes: one per partition their accounts' keys fall on (at most
    BATCH_ITEMS items each), keyed by the first of its accounts, so Kafka puts each event where
    its accounts' own events go. Built as plain JSON (the hot path of `billing bench prepaid`;
    tests/unit check it against the validated contract)."""
    out = []
    for group in by_partition(items, partitions):
        for start in range(0, len(group), BATCH_ITEMS):
            part = group[start:start + BATCH_ITEMS]
            out.append(build_envelope(_TYPE, _VERSION, {"items": part}, key=part[0]["account_id"],
                                      producer=producer, occurred_at=now))
    return out
