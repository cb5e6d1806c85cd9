"""An invoice's lines grouped by the reseller's customer they are for (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable


def by_customer(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One group per customer, each `{customer_id, total, lines}` with its lines in invoice order.

    The account's own lines (no `customer_id`) come first as `customer_id` None, then customers
    by id: a reseller bills each group to its customer, and the groups' totals add up to the
    invoice's total (lines are already rounded, so the sums are exact)."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for line in lines:
        groups.setdefault(line.get("customer_id"), []).append(line)
    order = sorted(groups, key=lambda c: (c is not None, c or ""))
    return [{"customer_id": c, "total": str(sum((Decimal(x["amount"]) for x in groups[c]), Decimal(0))),
             "lines": groups[c]} for c in order]
