"""Background tasks on the injected clock: request due billing runs, mark overdue invoices,
expire charges that waited too long for their account."""

from __future__ import annotations

import asyncio
import logging

from services.invoicing import containment, service
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)


def _interval(runtime: ServiceRuntime, name: str, default_ms: int) -> float:
    return int(runtime.settings.extra.get(name, default_ms)) / 1000


async def _every(runtime: ServiceRuntime, seconds: float, what: str, tick) -> None:
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                done = await tick(conn, runtime.settings, runtime.clock.now())
            if done:
                log.info("%s: %s", what, done)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database away: try again at the next tick
            log.exception("%s failed", what)
        await asyncio.sleep(seconds)


def billing_runs(runtime: ServiceRuntime) -> asyncio.Task:
    """Request each account's run once its metering point passed (BILLING_SCHEDULER_MS, default 10 s)."""
    return asyncio.create_task(_every(runtime, _interval(runtime, "BILLING_SCHEDULER_MS", 10_000),
                                      "billing runs requested", service.request_due_runs))


def overdue(runtime: ServiceRuntime) -> asyncio.Task:
    """Mark unpaid invoices past due overdue (BILLING_OVERDUE_MS, default 60 s)."""
    return asyncio.create_task(_every(runtime, _interval(runtime, "BILLING_OVERDUE_MS", 60_000),
                                      "invoices marked overdue", service.mark_overdue))


def pending_expiry(runtime: ServiceRuntime) -> asyncio.Task:
    """Quarantine charges that waited longer than BILLING_PENDING_CHARGES_TTL_HOURS (default 24)
    for an unknown account (checked every BILLING_PENDING_EXPIRY_MS, default 60 s)."""
    return asyncio.create_task(_every(runtime, _interval(runtime, "BILLING_PENDING_EXPIRY_MS", 60_000),
                                      "pending charges expired", containment.expire_pending))
