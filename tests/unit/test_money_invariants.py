"""Property tests of money after the invoice (sections 7 and 9), through the scenario runner:
random payments, disputes and resolutions on three months of invoices, then the invariants."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.scenarios import parse_scenario, run_scenario

UTC = timezone.utc
START = datetime(2026, 3, 1, 1, tzinfo=UTC)
MONTHS = ("2026-03", "2026-04", "2026-05")
CATALOG = {"currency": "USD", "products": [{"part_number": "UNIT", "kind": "usage", "unit_price": "0.01"}]}

percent = st.integers(1, 100)  # of the invoice's total: mostly accepted, some refused
op = st.one_of(
    st.tuples(st.just("payment"), st.integers(0, 2), percent, st.sampled_from(["card", "bank_transfer"])),
    st.tuples(st.just("dispute_opened"), st.integers(0, 2), percent),
    st.tuples(st.just("dispute_resolved"), st.integers(0, 7), st.booleans(), st.integers(0, 100)),
)


def _part(total_cents: int, pct: int) -> str:
    return str(D(max(1, total_cents * pct // 100)) / 100)


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"]))
    totals = draw(st.lists(st.integers(1, 600_000), min_size=3, max_size=3))  # invoices of 0.01 to 6,000.00
    events, disputes = [], []
    for i, month in enumerate(MONTHS):  # usage in the month before each run, so each run bills it
        used = datetime(2026, 2 + i, 10, tzinfo=UTC)
        events.append({"at": used.isoformat(), "type": "usage", "id": f"u{i}", "account": "acme",
                       "part_number": "UNIT", "quantity": totals[i]})
    at = START
    # each run at its month's metering point (00:00 on the 1st in the account's zone)
    runs = {datetime(2026, 3 + i, 1, tzinfo=ZoneInfo(zone)): month for i, month in enumerate(MONTHS)}
    ops = draw(st.lists(op, min_size=8, max_size=30))
    gaps = draw(st.lists(st.integers(1, 24 * 5), min_size=len(ops), max_size=len(ops)))
    for spec, gap in zip(ops, gaps):
        at += timedelta(hours=gap)
        kind = spec[0]
        issued = max(1, sum(1 for run_at in runs if run_at < at))  # mostly invoices that exist by then
        spec = (spec[0], spec[1] % issued if kind != "dispute_resolved" else spec[1], *spec[2:])
        if kind == "payment":
            event = {"account": "acme", "month": MONTHS[spec[1]], "amount": _part(totals[spec[1]], spec[2]),
                     "method": spec[3]}
        elif kind == "dispute_opened":
            disputes.append(f"d{len(disputes)}")
            event = {"dispute": disputes[-1], "account": "acme", "month": MONTHS[spec[1]],
                     "amount": _part(totals[spec[1]], spec[2])}
        else:
            # one of the disputes opened so far (or an unknown one when none was)
            event = {"dispute": disputes[spec[1] % len(disputes)] if disputes else "d0",
                     "outcome": "upheld" if spec[2] else "rejected"}
            if spec[2] and spec[3] < 100:  # a partial credit: cents that may exceed the disputed amount
                event["credit"] = str(D(spec[3] * 37) / 100)
        events.append({"at": at.isoformat(), "type": kind, **event})
    for run_at, month in runs.items():
        events.append({"at": run_at.isoformat(), "type": "billing_run", "month": month})
    events.sort(key=lambda e: (datetime.fromisoformat(e["at"]), e["type"] != "billing_run"))
    until = max(datetime.fromisoformat(e["at"]) for e in events) + timedelta(days=draw(st.integers(0, 60)))
    return {"name": "prop", "catalog": CATALOG, "accounts": [{"id": "acme", "time_zone": zone}],
            "until": until.isoformat(), "events": events}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_credit_notes_refunds_and_statements_add_up(data):
    out = run_scenario(parse_scenario(data))
    disputes = {d["dispute"]: d for d in out["disputes"]}
    notes = {c["dispute"]: c for c in out["credit_notes"]}
    # credit notes never exceed what was disputed, one per upheld dispute, of what it credited
    assert len(notes) == len(out["credit_notes"])
    for dispute_id, note in notes.items():
        d = disputes[dispute_id]
        assert d["status"] == "upheld" and D(note["amount"]) == D(d["credited"]) <= D(d["amount"])
    assert {i for i, d in disputes.items() if d["status"] == "upheld"} == set(notes)
    for refund in out["refunds"]:  # a refund comes of a credit note, and never exceeds it
        assert D(refund["amount"]) <= D(notes[refund["dispute"]]["amount"])
    # per invoice: credited is its credit notes; no resolution leaves it overpaid; paid nets refunds
    for b in out["invoice_balances"]:
        key = (b["account"], b["month"])
        credited = sum((D(c["amount"]) for c in out["credit_notes"] if (c["account"], c["month"]) == key), D(0))
        refunded = sum((D(r["amount"]) for r in out["refunds"] if (r["account"], r["month"]) == key), D(0))
        assert D(b["credited"]) == credited
        assert D(b["outstanding"]) == D(b["total"]) - credited + D(b["surcharges"]) - D(b["paid"])
        assert D(b["paid"]) >= 0 and D(b["outstanding"]) >= 0
        assert refunded == 0 or D(b["paid"]) <= D(b["total"]) - credited + D(b["surcharges"])
        assert D(b["overdue"]) <= max(D(b["outstanding"]), D(0))
    # a statement's closing is the next one's balance forward; the last closing is everything to date
    statements = sorted(out["statements"], key=lambda s: s["month"])
    for before, after in zip(statements, statements[1:]):
        assert before["closing_balance"] == after["balance_forward"]
    for s in statements:
        assert D(s["closing_balance"]) == (D(s["balance_forward"]) + D(s["new_charges"]) - D(s["payments"])
                                           - D(s["credit_notes"]) + D(s["refunds"]))
    if statements:
        to_date = sum((D(b["total"]) + D(b["surcharges"]) - D(b["paid"]) - D(b["credited"])
                       for b in out["invoice_balances"]), D(0))
        assert D(statements[-1]["closing_balance"]) == to_date
