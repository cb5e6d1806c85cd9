"""The fault suite's invariant checks catch what they are for, on purpose-built bad data; its
schedule and workload replay from a seed; the kit's kill points parse and count passes."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from cli.faults import invariants, schedule
from cli.faults.invariants import Snapshot
from cli.faults.workload import Workload
from cli.ops import SERVICES
from shared import faults


def _line(amount: str, subscription: str | None = None, start: str = "2026-11-01", end: str = "2026-12-01",
          part: str = "XDM00001", quantity: str = "1") -> dict:
    return {"subscription_id": subscription, "part_number": part, "from": start, "to": end,
            "quantity": quantity, "amount": amount}


def _invoice(number: int, account: str, lines: list[dict], month: str = "2026-11", issuer: str = "platform") -> dict:
    total = sum((Decimal(x["amount"]) for x in lines), Decimal("0"))
    return {"invoice_number": f"INV-{number}", "issuer": issuer, "sequence": number, "account_id": account,
            "month": month, "run_id": "r1", "total": total, "lines": lines}


def _good() -> Snapshot:
    """Two invoiced accounts (one with usage), one prepaid account with a redemption and a debit."""
    invoices = [_invoice(1, "a", [_line("12.00", "a-s0"), _line("2.00", None, "2026-10-01", "2026-11-01",
                                                                 "FAX-PAGE-OUT", "40")]),
                _invoice(2, "b", [_line("150.00", "b-s0", part="XDM00020")])]
    return Snapshot(
        sent_usage={"a-u0": ("a", "FAX-PAGE-OUT", Decimal(30)), "a-u1": ("a", "FAX-PAGE-OUT", Decimal(10))},
        postpaid_accounts=frozenset({"a", "b"}), usage_parts=frozenset({"FAX-PAGE-OUT"}),
        rating_usage=[{"record_id": "a-u0", "account_id": "a"}, {"record_id": "a-u1", "account_id": "a"}],
        account_runs=[{"account_id": i["account_id"], "month": "2026-11", "run_id": "r1", "settlement": "invoice",
                       "lines": len(i["lines"]), "total": i["total"], "currency": "USD"} for i in invoices],
        invoices=invoices, last_numbers={"platform": 2}, run={"run_id": "r1", "status": "reconciled"},
        prepaid_accounts=[{"account_id": "p", "balance": Decimal("38.00"), "shortfall": Decimal("0")}],
        entries=[{"account_id": "p", "sequence": 1, "kind": "redeemed", "change": Decimal("50.00"),
                  "balance": Decimal("50.00"), "shortfall": Decimal("0"), "ref": "PV01"},
                 {"account_id": "p", "sequence": 2, "kind": "recurring", "change": Decimal("-12.00"),
                  "balance": Decimal("38.00"), "shortfall": Decimal("0"),
                  "ref": "recurring:p-s0:2026-11-01:2026-12-01"}],
        lots=[{"lot": "PV01", "account_id": "p", "remaining": Decimal("38.00")}],
        draws=[{"account_id": "p", "sequence": 2, "lot": "PV01", "amount": Decimal("12.00")}],
    )


def _failing(s: Snapshot) -> set[str]:
    return {name for name, bad in invariants.check(s).items() if bad}


def test_a_clean_snapshot_passes_every_check():
    assert _failing(_good()) == set()


def test_an_account_billed_twice_for_a_month():
    good = _good()
    twice = _invoice(3, "b", [_line("150.00", "b-s0", part="XDM00020")])
    bad = dataclasses.replace(good, invoices=good.invoices + [twice], last_numbers={"platform": 3})
    assert _failing(bad) == {"one_invoice_per_account_and_month", "pieces_billed_once", "run_reconciled"}


def test_a_piece_billed_again_in_a_later_month_overlaps():
    good = _good()
    again = _invoice(3, "a", [_line("6.00", "a-s0", "2026-11-15", "2026-12-01")], month="2026-12")
    bad = dataclasses.replace(good, invoices=good.invoices + [again], last_numbers={"platform": 3})
    assert "pieces_billed_once" in _failing(bad)
    assert invariants.pieces_billed_once(bad) == [
        "a-s0: 2026-11-01..2026-12-01 (INV-1) and 2026-11-15..2026-12-01 (INV-3) overlap"]


def test_a_prepaid_debit_of_an_invoiced_piece_overlaps():
    good = _good()
    debit = {**good.entries[1], "ref": "recurring:a-s0:2026-11-01:2026-12-01", "sequence": 3}
    assert "pieces_billed_once" in _failing(dataclasses.replace(good, entries=good.entries + [debit]))


def test_a_usage_record_counted_twice_or_lost():
    good = _good()
    doubled = dataclasses.replace(good, invoices=[_invoice(1, "a", [_line("12.00", "a-s0"), _line(
        "4.00", None, "2026-10-01", "2026-11-01", "FAX-PAGE-OUT", "80")]), good.invoices[1]])
    assert invariants.usage_rated_once(doubled) == ["a FAX-PAGE-OUT: 80 units invoiced for 40 recorded"]
    lost = dataclasses.replace(good, rating_usage=good.rating_usage[:1])
    assert invariants.usage_rated_once(lost) == ["usage record a-u1 never stored by rating"]
    stored_twice = dataclasses.replace(good, rating_usage=good.rating_usage + good.rating_usage[:1])
    assert invariants.usage_rated_once(stored_twice) == ["usage record a-u0 stored 2 times by rating"]


def test_a_gap_in_invoice_numbers_and_a_counter_ahead():
    good = _good()
    gap = dataclasses.replace(good, invoices=[good.invoices[0], {**good.invoices[1], "sequence": 3}])
    assert invariants.gapless_numbers(gap) == ["invoice numbers of platform: missing [2], doubled []"]
    ahead = dataclasses.replace(good, last_numbers={"platform": 3})
    assert invariants.gapless_numbers(ahead) == ["invoice numbers of platform: counter at 3, 2 issued"]
    notes = [{"dispute_id": "d1", "issuer": "platform", "sequence": 1},
             {"dispute_id": "d2", "issuer": "platform", "sequence": 1}]
    assert invariants.gapless_numbers(dataclasses.replace(good, credit_notes=notes)) == [
        "credit note numbers of platform: missing [], doubled [1]"]


def test_a_total_that_is_not_its_lines():
    good = _good()
    bad = dataclasses.replace(good, invoices=[{**good.invoices[0], "total": Decimal("14.01")}, good.invoices[1]])
    assert "totals_equal_lines" in _failing(bad)


def test_a_run_not_reconciled_or_missing_an_invoice():
    good = _good()
    assert "run_reconciled" in _failing(dataclasses.replace(good, run={"run_id": "r1", "status": "mismatch"}))
    missing = dataclasses.replace(good, invoices=good.invoices[:1], last_numbers={"platform": 1})
    assert invariants.run_reconciled(missing)[0].startswith("run r1: 1 invoices for 2 rated accounts")
    other_run = [{**i, "run_id": "r0"} for i in good.invoices]  # billed by another run: r1 billed nobody
    assert invariants.run_reconciled(dataclasses.replace(good, invoices=other_run, account_runs=[])) == [
        "run r1: no invoice for 2 accounts: ['a', 'b']"]


def test_a_negative_balance_and_an_unbalanced_ledger():
    good = _good()
    negative = dataclasses.replace(good, prepaid_accounts=[{**good.prepaid_accounts[0], "balance": Decimal("-1")}])
    assert {"no_negative_balance", "ledgers_balanced"} <= _failing(negative)
    wrong_sum = dataclasses.replace(good, entries=[good.entries[0], {**good.entries[1], "balance": Decimal("40.00")}])
    assert "ledgers_balanced" in _failing(wrong_sum)
    undrawn = dataclasses.replace(good, draws=[])
    assert invariants.ledgers_balanced(undrawn) == ["p#2: debit -12.00, lots drawn 0"]
    lot_off = dataclasses.replace(good, lots=[{**good.lots[0], "remaining": Decimal("50.00")}])
    assert invariants.ledgers_balanced(lot_off) == ["p: ledger says 38.00, account 38.00, lots 50.00"]


def _disputed() -> Snapshot:
    """_good, with INV-1 (14.00) paid in full and disputed by d1 (4.00, upheld crediting 3.00: a
    credit note and a refund of 3.00) and INV-2 disputed by d2 (rejected: neither)."""
    good = _good()
    asked = {"d1": {"invoice_number": "INV-1", "amount": Decimal("4.00"), "outcome": "upheld",
                    "credited": Decimal("3.00")},
             "d2": {"invoice_number": "INV-2", "amount": Decimal("150.00"), "outcome": "rejected",
                    "credited": Decimal("0")}}
    return dataclasses.replace(
        good, asked_disputes=asked, disputes=[{"dispute_id": d, **a} for d, a in asked.items()],
        invoices=[{**good.invoices[0], "paid_total": Decimal("14.00"), "credited_total": Decimal("3.00"),
                   "refunded_total": Decimal("3.00"), "disputed_open": Decimal("0")}, good.invoices[1]],
        credit_notes=[{"credit_note_number": "PLATFORM-CN-000001", "dispute_id": "d1", "issuer": "platform",
                       "sequence": 1, "invoice_number": "INV-1", "amount": Decimal("3.00")}],
        credit_note_last_numbers={"platform": 1},
        refunds=[{"refund_id": "RF-d1", "dispute_id": "d1", "invoice_number": "INV-1", "amount": Decimal("3.00")}])


def test_resolved_disputes_with_their_credit_note_and_refund_pass():
    assert _failing(_disputed()) == set()


def test_a_second_credit_note_or_refund_for_one_dispute():
    good = _disputed()
    notes = good.credit_notes + [{**good.credit_notes[0], "sequence": 2}]
    assert invariants.no_second_credit_note_or_refund(dataclasses.replace(good, credit_notes=notes)) == [
        "dispute d1: 2 credit notes"]
    refunds = good.refunds + good.refunds
    assert invariants.no_second_credit_note_or_refund(dataclasses.replace(good, refunds=refunds)) == [
        "dispute d1: 2 refunds"]
    rejected = [{**good.credit_notes[0], "dispute_id": "d2", "invoice_number": "INV-2"}]
    assert invariants.no_second_credit_note_or_refund(dataclasses.replace(good, credit_notes=rejected)) == [
        "credit note for dispute d2, which is not upheld"]


def test_a_dispute_resolved_otherwise_than_asked_or_its_money_off():
    good = _disputed()
    other = dataclasses.replace(good, disputes=[{**good.disputes[0], "credited": Decimal("4.00")}, good.disputes[1]])
    assert invariants.disputes_resolved_as_asked(other) == ["dispute d1: credited 4.00, asked 3.00"]
    no_note = dataclasses.replace(good, credit_notes=[])
    assert invariants.disputes_resolved_as_asked(no_note) == [
        "dispute d1: credit notes [], expected [('INV-1', Decimal('3.00'))]",
        "invoice INV-1: credited_total 3.00, its rows add to 0", "invoice INV-1: refunded 3.00, overpaid 0"]
    no_refund = dataclasses.replace(good, refunds=[], invoices=[{**good.invoices[0], "refunded_total": 0},
                                                                good.invoices[1]])
    assert invariants.disputes_resolved_as_asked(no_refund) == ["invoice INV-1: refunded 0, overpaid 3.00"]
    held = dataclasses.replace(good, disputes=good.disputes + [
        {"dispute_id": "d3", "invoice_number": "INV-2", "amount": Decimal("5"), "outcome": None, "credited": None}])
    assert invariants.disputes_resolved_as_asked(held) == ["invoice INV-2: disputed_open None, its rows add to 5"]
    lost = dataclasses.replace(good, disputes=good.disputes[:1])
    assert invariants.disputes_resolved_as_asked(lost) == ["dispute d2: unknown to disputes"]


def test_a_credit_note_counter_ahead_of_its_numbers():
    ahead = dataclasses.replace(_disputed(), credit_note_last_numbers={"platform": 2})
    assert invariants.gapless_numbers(ahead) == ["credit note numbers of platform: counter at 2, 1 issued"]


def test_each_user_holds_one_invoiced_licence():
    good = _good()
    users = {("c1", "u0"): "a", ("c1", "u1"): "a"}
    licences = [{"subscription_id": f"ins-c1-{u}-1", "account_id": "a", "customer_id": "c1", "ended_at": None}
                for u in ("u0", "u1")]
    lines = [_line("12.00", x["subscription_id"]) for x in licences]
    billed = dataclasses.replace(good, licence_users=users, licences=licences,
                                 invoices=[{**good.invoices[0], "lines": good.invoices[0]["lines"] + lines},
                                           good.invoices[1]])
    assert invariants.one_licence_per_user(billed) == []
    second = {**licences[0], "subscription_id": "ins-c1-u0-2"}
    assert invariants.one_licence_per_user(dataclasses.replace(billed, licences=licences + [second])) == [
        "user u0 of c1: 2 licences ['ins-c1-u0-1', 'ins-c1-u0-2']"]
    assert invariants.one_licence_per_user(dataclasses.replace(billed, licences=licences[:1])) == [
        "user u1 of c1: 0 licences []"]
    assert invariants.one_licence_per_user(dataclasses.replace(billed, invoices=good.invoices)) == [
        "licence ins-c1-u0-1: never invoiced", "licence ins-c1-u1-1: never invoiced"]
    stranger = {**licences[0], "subscription_id": "ins-c1-u9-1"}
    assert invariants.one_licence_per_user(dataclasses.replace(billed, licences=licences + [stranger])) == [
        "licence ins-c1-u9-1: no user of the workload holds it"]


def test_every_consuming_service_is_killed_before_and_after_its_commit():
    kills = {(f.service, f.point) for f in schedule.draw(1) if f.kind == "kill"}
    for service in SERVICES:
        assert {(service, "before-commit"), (service, "after-commit")} <= kills, service
    assert {f.name for f in schedule.draw(1)} == {f.name for f in schedule.draw(2)}  # a seed orders, never drops
    armed_late = {f.name: f.env for f in schedule.draw(1) if f.phase == "disputes"}
    assert set(armed_late) == {"kill-invoicing-mid-disputes", "kill-disputes-mid-disputes"}
    assert all(env.split(":")[1] == "after-commit" for env in armed_late.values())


def test_a_seed_replays_its_schedule_and_workload():
    assert schedule.draw(42) == schedule.draw(42)
    assert [f.name for f in schedule.draw(42)] != [f.name for f in schedule.draw(43)]
    only = schedule.draw(42, ["kill-rating-mid-run"])
    assert only == [f for f in schedule.draw(42) if f.name == "kill-rating-mid-run"]
    assert not [f for f in schedule.draw(42, infra_faults=False) if f.kind.endswith("-restart")]
    now = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)
    one, two = (Workload.draw(random.Random("42/x"), "p_", now) for _ in range(2))
    assert one.facts()[0][1:] and [e.payload for e in one.facts()[1]] == [e.payload for e in two.facts()[1]]
    assert one.month == "2026-11" and one.start == datetime(2026, 10, 10, 9, tzinfo=timezone.utc)
    assert one.disputes == two.disputes and one.licence_users() == two.licence_users()
    assert [e.payload for e in one.commands() + one.platform_users()] == [
        e.payload for e in two.commands() + two.platform_users()]


def test_routed_accounts_are_opened_by_provisioning_only_and_disputes_vary():
    w = Workload.draw(random.Random("7/x"), "p_", datetime(2026, 11, 29, 12, tzinfo=timezone.utc))
    routed = {a.account_id for a in w.routed()}
    assert len(routed) == 3 and w.licence_users()
    opened = [e.payload["account_id"] for e in w.facts()[0] if e.type == "provisioning.account.opened"]
    assert not routed & set(opened) and len(opened) + len(routed) == len(w.accounts)
    assert [e.type for e in w.commands()].count("provisioning.account.open") == 3
    assert {(d.outcome, d.paid) for d in w.disputes} == {("upheld", True), ("upheld", False), ("rejected", True)}
    assert {d.via for d in w.disputes} == {"http", "command"} and set(routed) <= set(w.postpaid_accounts())


@pytest.mark.parametrize("text", ["rating:after-commit", "rating:nowhere:1", "rating:after-commit:0"])
def test_a_malformed_fault_is_refused(text):
    with pytest.raises(ValueError):
        faults.parse(text)


def test_a_point_kills_its_own_service_at_the_nth_pass(monkeypatch):
    killed = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setattr(faults, "_passes", {})
    monkeypatch.setenv("BILLING_FAULT", "rating:after-commit:2")
    faults.arm("invoicing")
    faults.point("after-commit")
    faults.point("after-commit")
    assert killed == []                      # another service's fault
    faults.arm("rating")
    faults.point("before-commit")
    faults.point("after-commit")
    assert killed == []                      # first pass
    faults.point("after-commit")
    assert killed == [faults.signal.SIGKILL]  # second pass
    faults.arm("")
