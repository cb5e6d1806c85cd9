"""The account pages' pure parts: refusal sentences, ledger rows, invoice lines and dispute amounts."""

from __future__ import annotations

import pytest

from services.portal import account_views as views
from services.portal.refusal_text import describe

INVOICE = {"lines": [
    {"part_number": "XDM00001", "product_name": "Insights User", "quantity": "3", "from": "2026-05-01",
     "to": "2026-06-01", "amount": "36.00", "customer_id": "c1"},
    {"part_number": "FAX-PAGE-IN", "product_name": "", "quantity": "100", "from": "2026-04-01",
     "to": "2026-05-01", "amount": "4.50"},
], "amounts": {"due": "40.50", "disputed_open": "10.00"},
    "credit_notes": [{"credit_note_number": "CN-1", "dispute_id": "d1"}, {"credit_note_number": "CN-2",
                                                                         "dispute_id": "d2"}],
    "refunds": [{"refund_id": "r-d1", "dispute_id": "d1"}]}


@pytest.mark.parametrize("status, reason, detail, shown, message", [
    (409, "voucher_already_redeemed", "x", 409, "That voucher was already redeemed; a voucher can be redeemed once."),
    (404, "unknown_voucher", "x", 422, "No voucher has that code. Check it for typing mistakes."),
    (422, "invalid_request", "low_balance_threshold: bad", 422,
     "Check the form's values (low_balance_threshold: bad)."),
    (422, "invalid_request", "", 422, "Check the form's values."),
    (418, "something_new", "the teapot is busy", 418, "The teapot is busy."),
    (409, "", "", 409, "The request was refused."),
])
def test_refusals_read_as_sentences_with_their_code(status, reason, detail, shown, message):
    refusal = describe(status, reason, detail)
    assert (refusal.reason, refusal.detail, refusal.status) == (reason or "refused", message, shown)


def test_ledger_rows_keep_the_order_and_show_local_times_and_lots():
    history = [{"sequence": 2, "at": "2026-03-05T23:30:00+00:00", "kind": "usage", "amount": "-4.00",
                "balance": "21.00", "shortfall": "0.00", "ref": "usage:2026-03-06",
                "draws": [{"lot": "ABCD1234", "amount": "4.00"}]},
               {"sequence": 1, "at": "2026-03-03T12:00:00+00:00", "kind": "redeemed", "amount": "25.00",
                "balance": "25.00", "shortfall": "0.00", "ref": "", "draws": []}]
    rows = views.ledger_rows(history, "Europe/Berlin")
    assert [r.sequence for r in rows] == [2, 1]
    assert rows[0].at == "2026-03-06 00:30" and rows[0].kind == "Usage" and rows[0].lots == "ABCD1234 4.00"
    assert rows[1].kind == "Voucher redeemed" and rows[1].balance == "25.00"


def test_feature_products_leave_out_packs_brands_and_regions():
    catalog = {"products": [{"part_number": "F", "kind": "recurring"}, {"part_number": "U", "kind": "usage"},
                            {"part_number": "P", "kind": "pack"},
                            {"part_number": "B", "kind": "recurring", "termination": "end_of_month"}]}
    assert [p["part_number"] for p in views.feature_products(catalog)] == ["F", "U"]


def test_invoice_lines_are_numbered_from_one_as_disputes_names_them():
    lines = views.invoice_lines(INVOICE)
    assert [(x.position, x.amount, x.customer) for x in lines] == [(1, "36.00", "c1"), (2, "4.50", "")]
    assert lines[0].text == "Insights User (XDM00001) × 3" and lines[1].text.startswith("FAX-PAGE-IN")
    assert (lines[0].start, lines[0].end) == ("2026-05-01", "2026-06-01")  # half-open, as the API sends it


@pytest.mark.parametrize("values, expected", [
    (["2", "1", "2"], [1, 2]), ([], []), (["3"], None), (["0"], None), (["x"], None)])
def test_chosen_positions_are_lines_of_the_invoice(values, expected):
    assert views.chosen_positions(values, 2) == expected


@pytest.mark.parametrize("typed, positions, expected", [
    ("12.00", [1], "12.00"), ("", [1, 2], "40.50"), ("  ", [2], "4.50"), ("", [], "")])
def test_a_blank_amount_disputes_the_ticked_lines(typed, positions, expected):
    assert views.dispute_amount(typed, views.invoice_lines(INVOICE), positions) == expected


def test_disputable_is_due_less_open_disputes_and_resolution_finds_its_documents():
    assert views.disputable(INVOICE) == "30.50"
    assert views.disputable({}) == ""
    found = views.resolution({"dispute_id": "d1", "outcome": "upheld", "credited": "5.00"}, INVOICE)
    assert [c["credit_note_number"] for c in found["credit_notes"]] == ["CN-1"]
    assert [r["refund_id"] for r in found["refunds"]] == ["r-d1"] and found["credited"] == "5.00"
    assert views.resolution({"dispute_id": "d9"}, None)["credit_notes"] == []


def test_local_time_is_empty_for_no_instant():
    assert views.local_time(None, "UTC") == "" and views.local_time("2026-01-01T00:00:00Z", "UTC") == "2026-01-01 00:00"


@pytest.mark.parametrize("amount, expected", [("0", False), ("0.00", False), (None, False), ("x", False),
                                              ("0.01", True), ("12.50", True)])
def test_positive_reads_the_apis_decimal_strings(amount, expected):
    assert views.positive(amount) is expected
