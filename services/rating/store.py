"""Rating's SQL, on the caller's connection. Set-based statements for the run's bulk work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

# ---------------------------------------------------------------- facts from provisioning
UPSERT_ACCOUNT = """
INSERT INTO accounts (account_id, parent_account_id, time_zone, mode, currency, payment_terms_days, opened_at,
                      price_book)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (account_id) DO NOTHING  -- time zone and mode are fixed at creation
"""

UPSERT_PRODUCTS = """
INSERT INTO products (currency, part_number, product)
SELECT $1, p ->> 'part_number', p FROM unnest($2::jsonb[]) AS p
ON CONFLICT (currency, part_number) DO UPDATE SET product = EXCLUDED.product
"""

ADD_SUBSCRIPTION = """
INSERT INTO subscriptions (subscription_id, account_id, part_number, quantity, customer_id,
                           started_at, source_event_id, kind, full_brand_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (subscription_id) DO NOTHING
"""

END_SUBSCRIPTION = """
UPDATE subscriptions SET ended_at = $2 WHERE subscription_id = $1 AND ended_at IS NULL
"""

SCHEDULE_TERMINATION = """
UPDATE subscriptions SET termination_requested_at = $2, termination_effective = $3
WHERE subscription_id = $1 AND termination_requested_at IS NULL
"""

ADD_USER_COUNT = """
INSERT INTO user_counts (account_id, at, count, event_id) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING
"""

# a record id is rated once however often it arrives: the primary key drops repeats
ADD_USAGE = """
INSERT INTO usage_records (record_id, account_id, part_number, quantity, used_at, received_at,
                           direction, user_group, user_id, number)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::timestamptz[], $6::timestamptz[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
ON CONFLICT (record_id) DO NOTHING
"""


async def upsert_account(conn: asyncpg.Connection, *row) -> None:
    await conn.execute(UPSERT_ACCOUNT, *row)


async def upsert_products(conn: asyncpg.Connection, currency: str, products: list[dict]) -> None:
    await conn.execute(UPSERT_PRODUCTS, currency, products)


async def add_subscription(conn: asyncpg.Connection, subscription_id: str, account_id: str,
                           part_number: str, quantity: int, customer_id: str | None,
                           started_at: datetime, source_event_id: UUID, kind: str = "feature",
                           full_brand_id: str | None = None) -> None:
    await conn.execute(ADD_SUBSCRIPTION, subscription_id, account_id, part_number, quantity,
                       customer_id, started_at, source_event_id, kind, full_brand_id)


async def end_subscription(conn: asyncpg.Connection, subscription_id: str, ended_at: datetime) -> None:
    await conn.execute(END_SUBSCRIPTION, subscription_id, ended_at)


async def schedule_termination(conn: asyncpg.Connection, subscription_id: str, requested_at: datetime,
                               effective: date) -> None:
    await conn.execute(SCHEDULE_TERMINATION, subscription_id, requested_at, effective)


async def add_user_count(conn: asyncpg.Connection, account_id: str, at: datetime, count: int,
                         event_id: UUID) -> None:
    await conn.execute(ADD_USER_COUNT, account_id, at, count, event_id)


async def add_usage(conn: asyncpg.Connection, rows: Sequence[tuple]) -> None:
    if rows:
        await conn.execute(ADD_USAGE, *map(list, zip(*rows)))


# ---------------------------------------------------------------- runs
INSERT_RUN = """
INSERT INTO runs (run_id, month, requested_at, account_ids, request_event_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (run_id) DO NOTHING
"""

# runs are rated one at a time, oldest request first: a later run of an account must see the
# ledger its earlier run wrote. A run already planned (being rated) goes before any other, so a
# request arriving with an earlier instant waits for it instead of running beside it.
OLDEST_PENDING_RUN = """
SELECT * FROM runs WHERE status = 'pending' ORDER BY planned DESC, requested_at, run_id LIMIT 1
"""
LOCK_RUN = "SELECT * FROM runs WHERE run_id = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED"

# the upper bounds of the run's chunks, in id order: the candidate account ids at the positions
# of the ramp ($3), then at every `size`-th ($1) position after the ramp's last ($4)
CHUNK_BOUNDS = """
SELECT account_id FROM (
    SELECT account_id, row_number() OVER (ORDER BY account_id) AS n FROM accounts
    WHERE $2::text[] IS NULL OR account_id = ANY($2)
) x WHERE n = ANY($3::int[]) OR (n > $4 AND (n - $4) % $1 = 0) ORDER BY account_id
"""
INSERT_CHUNKS = """
INSERT INTO run_chunks (run_id, seq, after_id, through_id)
SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[])
"""
MARK_PLANNED = "UPDATE runs SET planned = true WHERE run_id = $1"

# a chunk nobody is rating; the row lock is the claim, held until the chunk's transaction ends
CLAIM_CHUNK = """
SELECT * FROM run_chunks WHERE run_id = $1 AND done_at IS NULL ORDER BY seq
LIMIT 1 FOR UPDATE SKIP LOCKED
"""
CHUNKS_LEFT = "SELECT count(*) FROM run_chunks WHERE run_id = $1 AND done_at IS NULL"
MARK_CHUNK_DONE = "UPDATE run_chunks SET done_at = $3, accounts = $4 WHERE run_id = $1 AND seq = $2"

# the chunk's accounts due in this run: not rated for the month yet, and at or past their own
# metering point (1st of the month, 00:00 in the account's zone) when the run was requested.
# The id range is spelled out per shape of the chunk's bounds (_DUE_RANGES): a
# "$n IS NULL OR ..." test would leave a prepared statement's generic plan scanning every account.
# The account runs are bounded by the same range ({runs}): the anti-join then reads the chunk's
# part of their index instead of filtering every account run of the month (a table that grows
# with each chunk rated).
DUE_ACCOUNTS = """
SELECT a.* FROM accounts a
WHERE {range}
  AND NOT EXISTS (SELECT 1 FROM account_runs r WHERE r.account_id = a.account_id AND r.month = $1 AND {runs})
  AND make_timestamptz($2, $3, 1, 0, 0, 0, a.time_zone) <= $4
  AND ($5::text[] IS NULL OR a.account_id = ANY($5))
ORDER BY a.account_id
"""
_DUE_RANGES = {
    (True, True): "a.account_id > $6 AND a.account_id <= $7",
    (True, False): "a.account_id > $6",
    (False, True): "a.account_id <= $6",
    (False, False): "true",
    "only": "a.account_id = ANY($6::text[])",  # some accounts, when a failed chunk is rated in parts
}
# the chunk's accounts not rated for the month yet, without the metering-point test (an
# account's bad time zone fails that test's make_timestamptz, and with it the whole query)
CHUNK_CANDIDATES = """
SELECT a.account_id FROM accounts a
WHERE {range}
  AND NOT EXISTS (SELECT 1 FROM account_runs r WHERE r.account_id = a.account_id AND r.month = $1 AND {runs})
  AND ($2::text[] IS NULL OR a.account_id = ANY($2))
ORDER BY a.account_id
"""

CATALOG = "SELECT currency, product FROM products"
# the facts of some accounts: {accounts} is "= ANY($1::text[])" (their ids), or "BETWEEN $1 AND $2"
# (every account of an id range: one index range scan instead of one index probe per account)
_OF_IDS, _IN_RANGE = "= ANY($1::text[])", "BETWEEN $1 AND $2"
# subscriptions (the facts' keys, pricing.FACT_KEYS: no other column to decode) with their ledger
# entry (the first day not billed yet), looked up per subscription (a join by range would let the
# planner hash the whole ledger table)
_SUBSCRIPTIONS_OF = """
SELECT s.subscription_id, s.account_id, s.part_number, s.kind, s.started_at, s.quantity, s.ended_at,
       s.termination_requested_at, s.termination_effective, s.customer_id, s.full_brand_id,
       (SELECT b.through FROM billed_through b WHERE b.subscription_id = s.subscription_id) AS billed_through
FROM subscriptions s WHERE s.account_id {accounts}
"""
_USER_COUNTS_OF = "SELECT account_id, at, count FROM user_counts WHERE account_id {accounts}"
_UNRATED_USAGE_OF = """
SELECT record_id, account_id, part_number, quantity, used_at, received_at FROM usage_records
WHERE account_id {accounts} AND rated_month IS NULL
"""
_USAGE_UNITS_OF = """
SELECT account_id, part_number, usage_month, units FROM usage_units WHERE account_id {accounts}
"""
UNRATED_USAGE_OF, USAGE_UNITS_OF = (_UNRATED_USAGE_OF.format(accounts=_OF_IDS),
                                   _USAGE_UNITS_OF.format(accounts=_OF_IDS))  # prepaid's midnights
RANGE_MIN_ACCOUNTS = 100  # fewer accounts than this are probed one by one: a range could hold many more

ACCOUNT_RUN_COLUMNS = ["account_id", "month", "run_id", "settlement", "currency", "lines", "total"]
RUN_SUMMARY = """
SELECT settlement, currency, count(*) FILTER (WHERE lines > 0) AS accounts,
       sum(lines) AS lines, sum(total) AS total
FROM account_runs WHERE run_id = $1 GROUP BY settlement, currency
"""
MARK_RUN_RATED = "UPDATE runs SET status = 'rated', rated_at = $2 WHERE run_id = $1"


async def insert_run(conn: asyncpg.Connection, run_id: str, month: str, requested_at: datetime,
                     account_ids: list[str] | None, request_event_id: UUID) -> bool:
    return await conn.execute(INSERT_RUN, run_id, month, requested_at, account_ids,
                              request_event_id) == "INSERT 0 1"


async def oldest_pending_run(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(OLDEST_PENDING_RUN)


async def lock_run(conn: asyncpg.Connection, run_id: str) -> asyncpg.Record | None:
    """The pending run, locked until the transaction ends; None if done or locked elsewhere."""
    return await conn.fetchrow(LOCK_RUN, run_id)


def chunk_ramp(size: int) -> list[int]:
    """End positions of the first chunks, of size/8, size/4 and size/2 accounts: the first
    charges leave (and downstream invoicing starts) after a fraction of a full chunk's time."""
    ends, end = [], 0
    for part in (8, 4, 2):
        if size // part:
            end += size // part
            ends.append(end)
    return ends


async def plan_chunks(conn: asyncpg.Connection, run: asyncpg.Record, size: int) -> int:
    """Cut the run's candidate accounts into chunks (a ramp, then `size` each); returns how many."""
    ramp = chunk_ramp(size)
    rows = await conn.fetch(CHUNK_BOUNDS, size, run["account_ids"], ramp, ramp[-1] if ramp else 0)
    bounds = [r["account_id"] for r in rows]
    lower, upper = [None, *bounds], [*bounds, None]
    await conn.execute(INSERT_CHUNKS, run["run_id"], list(range(len(lower))), lower, upper)
    await conn.execute(MARK_PLANNED, run["run_id"])
    return len(lower)


async def claim_chunk(conn: asyncpg.Connection, run_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(CLAIM_CHUNK, run_id)


async def chunks_left(conn: asyncpg.Connection, run_id: str) -> int:
    return await conn.fetchval(CHUNKS_LEFT, run_id)


async def mark_chunk_done(conn: asyncpg.Connection, chunk: asyncpg.Record, at: datetime, accounts: int) -> None:
    await conn.execute(MARK_CHUNK_DONE, chunk["run_id"], chunk["seq"], at, accounts)


def _range(chunk: asyncpg.Record) -> tuple[str, list[str]]:
    bounds = [b for b in (chunk["after_id"], chunk["through_id"]) if b is not None]
    return _DUE_RANGES[(chunk["after_id"] is not None, chunk["through_id"] is not None)], bounds


def _runs_range(where: str) -> str:
    """The chunk's id range for the account runs' side of the anti-join."""
    return where.replace("a.account_id", "r.account_id")


async def due_accounts(conn: asyncpg.Connection, run: asyncpg.Record, chunk: asyncpg.Record,
                       only: list[str] | None = None) -> list[asyncpg.Record]:
    """The accounts of `chunk` (or only those of `only`) due in `run`, in id order."""
    year, mon = map(int, run["month"].split("-"))
    where, bounds = (_DUE_RANGES["only"], [only]) if only is not None else _range(chunk)
    return await conn.fetch(DUE_ACCOUNTS.format(range=where, runs=_runs_range(where)), run["month"], year, mon,
                            run["requested_at"], run["account_ids"], *bounds)


async def chunk_candidates(conn: asyncpg.Connection, run: asyncpg.Record, chunk: asyncpg.Record) -> list[str]:
    """Ids of the chunk's accounts in the run not rated for its month yet (due or not)."""
    where, bounds = _range(chunk)
    where = where.replace("$6", "$3").replace("$7", "$4")
    rows = await conn.fetch(CHUNK_CANDIDATES.format(range=where, runs=_runs_range(where)),
                            run["month"], run["account_ids"], *bounds)
    return [r["account_id"] for r in rows]


async def load_facts(conn: asyncpg.Connection, account_ids: list[str], whole_range: bool = False) -> dict[str, list]:
    """Everything the runs of these accounts need, in one round trip per table (subscriptions
    come with their `billed_through` ledger date). `whole_range`: the accounts (in id order, as
    due_accounts gives them) are most of their id range (a chunk of a run of every account), so
    the facts are read by that range; those of the range's other accounts come too, unused."""
    if whole_range and len(account_ids) >= RANGE_MIN_ACCOUNTS:
        accounts, args = _IN_RANGE, (account_ids[0], account_ids[-1])
    else:
        accounts, args = _OF_IDS, (account_ids,)
    return {
        "catalog": await conn.fetch(CATALOG),
        "subscriptions": await conn.fetch(_SUBSCRIPTIONS_OF.format(accounts=accounts), *args),
        "user_counts": await conn.fetch(_USER_COUNTS_OF.format(accounts=accounts), *args),
        "usage": await conn.fetch(_UNRATED_USAGE_OF.format(accounts=accounts), *args),
        "usage_units": await conn.fetch(_USAGE_UNITS_OF.format(accounts=accounts), *args),
    }


async def save_account_runs(conn: asyncpg.Connection, month: str, run_id: str,
                            rows: list[tuple[str, str, str, int, Decimal]]) -> None:
    """One row per account rated, copied in (no conflict to handle: due_accounts left out the
    accounts rated for the month, and a second row would fail the chunk as an insert would)."""
    if rows:
        await conn.copy_records_to_table("account_runs", columns=ACCOUNT_RUN_COLUMNS, records=[
            (account, month, run_id, settlement, currency, lines, total)
            for account, settlement, currency, lines, total in rows])


async def run_summary(conn: asyncpg.Connection, run_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(RUN_SUMMARY, run_id)


async def mark_run_rated(conn: asyncpg.Connection, run_id: str, at: datetime) -> None:
    await conn.execute(MARK_RUN_RATED, run_id, at)
