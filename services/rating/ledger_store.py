"""Rating's ledger SQL: what runs billed (billed_through, usage_units) and the usage they rated."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

import asyncpg

# the ledger, by upserts when which of its rows exist is not known...
SAVE_BILLED_THROUGH = """
INSERT INTO billed_through (subscription_id, through)
SELECT * FROM unnest($1::text[], $2::date[])
ON CONFLICT (subscription_id) DO UPDATE SET through = GREATEST(billed_through.through, EXCLUDED.through)
"""
# units go as their text, cast by the server (see _as_text)
SAVE_USAGE_UNITS = """
INSERT INTO usage_units (account_id, part_number, usage_month, units)
SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[]::numeric[])
ON CONFLICT (account_id, part_number, usage_month) DO UPDATE SET units = usage_units.units + EXCLUDED.units
"""
# ...and when the facts loaded in the same transaction tell: the new rows by plain inserts (about
# half an upsert's cost on the server, which inserts speculatively; not by COPY, which encodes
# faster but can leave asyncpg's connection hung when the server refuses it midway, and these
# inserts may meet a row another transaction just added), the others updated
INSERT_BILLED_THROUGH = """
INSERT INTO billed_through (subscription_id, through) SELECT * FROM unnest($1::text[], $2::date[])
"""
INSERT_USAGE_UNITS = """
INSERT INTO usage_units (account_id, part_number, usage_month, units)
SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[]::numeric[])
"""
MOVE_BILLED_THROUGH = """
UPDATE billed_through b SET through = v.through FROM unnest($1::text[], $2::date[]) AS v(subscription_id, through)
WHERE b.subscription_id = v.subscription_id AND b.through < v.through
"""
ADD_USAGE_UNITS = """
UPDATE usage_units u SET units = u.units + v.units
FROM unnest($1::text[], $2::text[], $3::date[], $4::text[]::numeric[]) AS v(account_id, part_number, usage_month, units)
WHERE u.account_id = v.account_id AND u.part_number = v.part_number AND u.usage_month = v.usage_month
"""
MARK_USAGE_RATED = """
UPDATE usage_records SET rated_month = $2 WHERE record_id = ANY($1::text[]) AND rated_month IS NULL
"""


class Ledgered(NamedTuple):
    """The ledger rows loaded facts had: subscriptions with a `billed_through` date, and the
    (account, part, usage month) keys of `usage_units`."""

    subscriptions: set[str]
    units: set[tuple[str, str, date]]


def ledgered(facts: dict[str, list]) -> Ledgered:
    """The ledger rows of loaded `facts` (see save_ledger)."""
    return Ledgered({r["subscription_id"] for r in facts["subscriptions"] if r["billed_through"] is not None},
                    {(r["account_id"], r["part_number"], r["usage_month"]) for r in facts["usage_units"]})


async def save_ledger(conn: asyncpg.Connection, month: str, through: list[tuple[str, date]],
                      units: list[tuple[str, str, date, Decimal]], rated_ids: list[str],
                      known: Ledgered | None = None) -> None:
    """The run's ledger entries. With `known` (the ledger rows there were when this transaction
    loaded the facts) new rows are inserted and known ones moved forward or added to, without the
    upserts' cost (a plain insert costs about half an upsert, which inserts speculatively). Runs
    go one at a time and rate an account in one chunk, so only prepaid's midnights could add a
    row meanwhile (units of an account in prepaid mode, whose usage a run does not bill: a mode
    switch racing the run); then the insert fails the chunk, which is rated again in parts on
    facts loaded anew: never a piece or a unit billed twice, nor one lost."""
    if known is None:
        if through:
            await conn.execute(SAVE_BILLED_THROUGH, *map(list, zip(*through)))
        await add_usage_units(conn, units)
    else:
        await _insert_or_update(conn, INSERT_BILLED_THROUGH, MOVE_BILLED_THROUGH,
                                through, [t[0] in known.subscriptions for t in through])
        await _insert_or_update(conn, INSERT_USAGE_UNITS, ADD_USAGE_UNITS, _as_text(units),
                                [u[:3] in known.units for u in units])
    if rated_ids:
        await conn.execute(MARK_USAGE_RATED, rated_ids, month)


async def add_usage_units(conn: asyncpg.Connection, units: list[tuple[str, str, date, Decimal]]) -> None:
    """Add units (account, part number, usage month, units) to the ledger, by upsert: a run's
    without the loaded rows at hand, prepaid's midnights."""
    if units:
        await conn.execute(SAVE_USAGE_UNITS, *map(list, zip(*_as_text(units))))


async def _insert_or_update(conn: asyncpg.Connection, insert: str, update: str,
                            rows: list[tuple], exists: list[bool]) -> None:
    """`rows` whose row does not exist yet by `insert`, the others by `update` (both column arrays)."""
    new = [row for row, there in zip(rows, exists) if not there]
    if new:
        await conn.execute(insert, *map(list, zip(*new)))
    if len(new) < len(rows):
        await conn.execute(update, *map(list, zip(*(row for row, there in zip(rows, exists) if there))))


def _as_text(units: list[tuple[str, str, date, Decimal]]) -> list[tuple[str, str, date, str]]:
    """The units rows with their Decimal as its exact text: asyncpg's binary numeric encoder
    costs about 0.9 us more per value than sending the text for the server to cast (2,000 rows:
    2.8 -> 1.9 us per row, client CPU)."""
    return [(account, part, month, str(n)) for account, part, month, n in units]
