"""An invoice's lines grouped by customer: the account's own first, totals exact."""

from __future__ import annotations

from services.invoicing.customers import by_customer


def test_groups_in_order_with_exact_totals():
    lines = [{"amount": "0.10", "customer_id": "b"}, {"amount": "1.00"}, {"amount": "0.20", "customer_id": "a"},
             {"amount": "0.20", "customer_id": "b"}, {"amount": "2.00", "customer_id": None}]
    groups = by_customer(lines)
    assert [(g["customer_id"], g["total"], len(g["lines"])) for g in groups] == [
        (None, "3.00", 2), ("a", "0.20", 1), ("b", "0.30", 2)]
    assert groups[2]["lines"] == [lines[0], lines[3]]


def test_no_lines_no_groups():
    assert by_customer([]) == []
