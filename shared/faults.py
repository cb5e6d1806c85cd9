"""Fault injection for the fault suite: `BILLING_FAULT=<service>:<point>:<n>` kills the process
(SIGKILL, no clean-up) the n-th time it passes the named point; unset, every point is a no-op."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

# the named points (docs/faults.md): where a crash tests a different promise
POINTS = (
    "before-commit",   # a consumer's handler ran, its transaction not yet committed
    "after-commit",    # the transaction committed, the Kafka offset not yet
    "relay-published",  # the outbox relay's batch is acknowledged by Kafka, its rows not yet deleted
    "run-chunk",       # rating rated a run chunk, its transaction not yet committed
    "invoices-issued",  # invoicing issued a batch's invoices, its transaction not yet committed
)

_service = ""
_passes: dict[str, int] = {}


def arm(service: str) -> None:
    """Name this process's service (ServiceRuntime does it): BILLING_FAULT applies to that one only."""
    global _service
    _service = service


def parse(text: str) -> tuple[str, str, int]:
    """`<service>:<point>:<n>` -> (service, point, n); ValueError for anything else."""
    service, point, n = text.split(":")
    if point not in POINTS or int(n) < 1:
        raise ValueError(f"BILLING_FAULT={text!r}: expected <service>:<point>:<n>, point one of {POINTS}")
    return service, point, int(n)


def point(name: str) -> None:
    """Pass the point `name`; when BILLING_FAULT names it for this service, the n-th pass kills."""
    wanted = os.environ.get("BILLING_FAULT")
    if not wanted:
        return
    service, fault_point, n = parse(wanted)
    if fault_point != name or service != _service:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] == n:
        log.warning("fault injection: SIGKILL at %s:%s (pass %d)", service, name, n)
        logging.shutdown()  # the line above reaches the log before the process dies
        os.kill(os.getpid(), signal.SIGKILL)
