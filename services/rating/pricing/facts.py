"""Stored subscription facts as the core's subscriptions: the one mapping for live runs and previews."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from .lines import build_frozen
from .packs import pack_start
from .timeline import Subscription

FACT_KEYS = ("subscription_id", "account_id", "part_number", "kind", "started_at", "quantity", "ended_at",
             "termination_requested_at", "termination_effective", "customer_id", "full_brand_id")
"""The keys of one subscription fact (rating's `subscriptions` row; the scenario runner's items).
`kind` is feature | brand | region | pack; a pack's `started_at` is its onboarding instant."""


def subscriptions_from_facts(rows: Iterable[Mapping], metering_point: datetime) -> list[Subscription]:
    """The pricing subscriptions of one account's facts (mappings with `FACT_KEYS`) for the run at
    `metering_point`. Packs start per the brand rule (`pack_start`: with a Full Brand, not before
    its commercial readiness, from the same facts' brand row) and are left out while that brand
    is not ready; a fact that has not started billing (`started_at` None) is left out. A
    termination's effective date is passed only when it was requested before the metering point
    (a later request belongs to later runs); later starts and ends the core ignores itself."""
    rows = list(rows)
    brand_start = {r["subscription_id"]: r["started_at"] for r in rows if r["kind"] == "brand"}
    out = []
    for r in rows:
        start = r["started_at"]
        if r["kind"] == "pack" and start is not None:
            start = pack_start(start, brand_start.get(r["full_brand_id"]), r["full_brand_id"] is not None)
        if start is None:
            continue  # not billing yet (a pack whose Full Brand is not ready)
        requested = r["termination_requested_at"]
        # build_frozen: the same values as Subscription(...), without the frozen __init__'s per-field cost
        out.append(build_frozen(Subscription, {
            "id": r["subscription_id"], "account": r["account_id"], "part_number": r["part_number"], "start": start,
            "quantity": r["quantity"], "end": r["ended_at"],
            "termination_effective": r["termination_effective"]
            if requested is not None and requested < metering_point else None,
            "customer": r["customer_id"]}))
    return out
