"""Failures of the database or the network itself, as opposed to failures of one account's data."""

from __future__ import annotations

import asyncio

import asyncpg

# A unit of work failing with one of these is retried as it is; anything else is taken to be the
# data's fault and contained to the account (quarantined, skipped) whose data it was. Quarantining
# every account of a chunk because the connection dropped would be wrong.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError, asyncio.TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.exceptions.TransactionRollbackError,     # serialization failures, deadlocks
    asyncpg.exceptions.InsufficientResourcesError,   # disk full, out of memory, too many connections
    asyncpg.exceptions.OperatorInterventionError,    # admin shutdown, query cancelled
)
