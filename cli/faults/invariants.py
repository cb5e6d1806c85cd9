"""The fault suite's invariants: pure checks of the services' rows after a fault (no I/O here).

Each check takes a Snapshot (loaded by cli/faults/snapshot.py) and returns the violations it
found, as sentences; an empty list is a pass. Several restate a database constraint on purpose:
the suite checks outcomes, whichever mechanism (inbox, unique key, lock) is meant to give them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal("0")


@dataclass(frozen=True)
class Snapshot:
    """What the checks read. Rows are plain dicts with the services' column names; invoice
    `lines` are wire dicts (`subscription_id`, `part_number`, `from`, `to`, `quantity`, `amount`)."""

    # the workload's usage records: record_id -> (account_id, part_number, quantity), sent at
    # least once each (some twice, on purpose)
    sent_usage: dict[str, tuple[str, str, Decimal]] = field(default_factory=dict)
    postpaid_accounts: frozenset[str] = frozenset()   # the workload's invoiced accounts
    usage_parts: frozenset[str] = frozenset()
    rating_usage: list[dict] = field(default_factory=list)      # record_id, account_id
    account_runs: list[dict] = field(default_factory=list)      # account_id, month, run_id, settlement, lines, total, currency
    invoices: list[dict] = field(default_factory=list)
    last_numbers: dict[str, int] = field(default_factory=dict)  # issuer -> number_sequences.last_number
    run: dict = field(default_factory=dict)                     # invoicing's GET /v1/runs/{id}
    prepaid_accounts: list[dict] = field(default_factory=list)  # account_id, balance, shortfall
    entries: list[dict] = field(default_factory=list)           # the credit ledger
    lots: list[dict] = field(default_factory=list)
    draws: list[dict] = field(default_factory=list)
    # invoices also carry paid_total, surcharge_total, credited_total, refunded_total, disputed_open
    # credit_note_number, dispute_id, issuer, sequence, invoice_number, amount
    credit_notes: list[dict] = field(default_factory=list)
    credit_note_last_numbers: dict[str, int] | None = None      # issuer -> credit_note_sequences.last_number
    refunds: list[dict] = field(default_factory=list)           # refund_id, dispute_id, invoice_number, amount
    # the disputes service's: dispute_id, invoice_number, amount, outcome, credited
    disputes: list[dict] = field(default_factory=list)
    # what the workload asked: dispute_id -> invoice_number, amount, outcome, credited (0 when rejected)
    asked_disputes: dict[str, dict] = field(default_factory=dict)
    licence_users: dict[tuple[str, str], str] = field(default_factory=dict)  # (customer, user) -> account
    # provisioning's ins-* subscriptions: subscription_id, account_id, customer_id, ended_at
    licences: list[dict] = field(default_factory=list)


def usage_rated_once(s: Snapshot) -> list[str]:
    """Every record stored once by rating, and each invoiced account's usage lines add up to
    its records' quantities (a record counted twice, or lost, shows as a difference)."""
    out = []
    stored = Counter(r["record_id"] for r in s.rating_usage)
    out += [f"usage record {rid} stored {n} times by rating" for rid, n in stored.items() if n > 1]
    out += [f"usage record {rid} never stored by rating" for rid in s.sent_usage if rid not in stored]
    wanted: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for account, part, quantity in s.sent_usage.values():
        if account in s.postpaid_accounts:
            wanted[(account, part)] += quantity
    billed: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for invoice in s.invoices:
        for line in invoice["lines"]:
            if line.get("subscription_id") is None and line["part_number"] in s.usage_parts:
                billed[(invoice["account_id"], line["part_number"])] += Decimal(str(line["quantity"]))
    for key in sorted(set(wanted) | set(billed)):
        if wanted[key] != billed[key]:
            out.append(f"{key[0]} {key[1]}: {billed[key]} units invoiced for {wanted[key]} recorded")
    return out


def _pieces(s: Snapshot):
    """(subscription, from, to, where) of every recurring piece invoiced or debited."""
    for invoice in s.invoices:
        for line in invoice["lines"]:
            if line.get("subscription_id"):
                yield (line["subscription_id"], date.fromisoformat(str(line["from"])),
                       date.fromisoformat(str(line["to"])), invoice["invoice_number"])
    for entry in s.entries:
        if entry["kind"] == "recurring":  # ref recurring:<subscription or part>:<from>:<to>
            _, subscription, start, end = entry["ref"].rsplit(":", 3)
            yield (subscription, date.fromisoformat(start), date.fromisoformat(end),
                   f"{entry['account_id']}#{entry['sequence']}")


def pieces_billed_once(s: Snapshot) -> list[str]:
    """No two invoiced or debited pieces of one subscription overlap ([from, to) periods)."""
    out, by_subscription = [], defaultdict(list)
    for subscription, start, end, where in _pieces(s):
        by_subscription[subscription].append((start, end, where))
    for subscription, pieces in sorted(by_subscription.items()):
        pieces.sort()
        for (s1, e1, w1), (s2, e2, w2) in zip(pieces, pieces[1:]):
            if s2 < e1:
                out.append(f"{subscription}: {s1}..{e1} ({w1}) and {s2}..{e2} ({w2}) overlap")
    return out


def one_invoice_per_account_and_month(s: Snapshot) -> list[str]:
    counts = Counter((i["account_id"], i["month"]) for i in s.invoices)
    return [f"{a} has {n} invoices for {m}" for (a, m), n in sorted(counts.items()) if n > 1]


def _gapless(kind: str, rows: list[dict], last: dict[str, int] | None) -> list[str]:
    out, by_issuer = [], defaultdict(list)
    for row in rows:
        by_issuer[row["issuer"]].append(row["sequence"])
    for issuer, numbers in sorted(by_issuer.items()):
        numbers.sort()
        if numbers != list(range(1, len(numbers) + 1)):
            missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
            doubled = sorted(n for n, c in Counter(numbers).items() if c > 1)
            out.append(f"{kind} numbers of {issuer}: missing {missing[:10]}, doubled {doubled[:10]}")
        if last is not None and last.get(issuer, 0) != len(numbers):
            out.append(f"{kind} numbers of {issuer}: counter at {last.get(issuer, 0)}, {len(numbers)} issued")
    return out


def gapless_numbers(s: Snapshot) -> list[str]:
    """Invoice and credit-note numbers run 1..N per issuer, and each counter stands at its N."""
    return (_gapless("invoice", s.invoices, s.last_numbers)
            + _gapless("credit note", s.credit_notes, s.credit_note_last_numbers))


def totals_equal_lines(s: Snapshot) -> list[str]:
    out = []
    for invoice in s.invoices:
        lines = sum((Decimal(str(line["amount"])) for line in invoice["lines"]), ZERO)
        if Decimal(str(invoice["total"])) != lines:
            out.append(f"invoice {invoice['invoice_number']}: total {invoice['total']}, lines add to {lines}")
    return out


def run_reconciled(s: Snapshot) -> list[str]:
    """The run reconciled, its invoices are exactly rating's invoice-settled accounts with lines,
    and it invoiced every invoiced account of the workload (each has subscriptions)."""
    out = []
    if s.run.get("status") != "reconciled":
        out.append(f"run {s.run.get('run_id')} is {s.run.get('status')!r}, not reconciled")
    run_id = s.run.get("run_id")
    rated = {(r["account_id"], Decimal(str(r["total"]))) for r in s.account_runs
             if r["run_id"] == run_id and r["settlement"] == "invoice" and r["lines"] > 0}
    invoiced = [(i["account_id"], Decimal(str(i["total"]))) for i in s.invoices if i["run_id"] == run_id]
    if len(invoiced) != len(set(invoiced)) or set(invoiced) != rated:
        out.append(f"run {run_id}: {len(invoiced)} invoices for {len(rated)} rated accounts; "
                   f"differ in {sorted({a for a, _ in set(invoiced) ^ rated})[:10]}")
    missed = sorted(s.postpaid_accounts - {a for a, _ in invoiced})
    if missed:
        out.append(f"run {run_id}: no invoice for {len(missed)} accounts: {missed[:10]}")
    return out


def no_negative_balance(s: Snapshot) -> list[str]:
    out = [f"{a['account_id']}: balance {a['balance']}" for a in s.prepaid_accounts if Decimal(str(a["balance"])) < 0]
    out += [f"{e['account_id']}#{e['sequence']}: balance {e['balance']}" for e in s.entries
            if Decimal(str(e["balance"])) < 0]
    out += [f"lot {lot['lot']}: remaining {lot['remaining']}" for lot in s.lots if Decimal(str(lot["remaining"])) < 0]
    return out


def ledgers_balanced(s: Snapshot) -> list[str]:
    """Per account: entries numbered 1..N, each balance the previous plus its change, the last
    one the account's balance and the sum of its lots; each debit's draws add up to what it drew."""
    out = []
    entries, lots, draws = defaultdict(list), defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
    for e in s.entries:
        entries[e["account_id"]].append(e)
    for lot in s.lots:
        lots[lot["account_id"]] += Decimal(str(lot["remaining"]))
    for d in s.draws:
        draws[(d["account_id"], d["sequence"])] += Decimal(str(d["amount"]))
    for account in s.prepaid_accounts:
        aid, balance = account["account_id"], ZERO
        rows = sorted(entries[aid], key=lambda e: e["sequence"])
        if [e["sequence"] for e in rows] != list(range(1, len(rows) + 1)):
            out.append(f"{aid}: ledger sequence {[e['sequence'] for e in rows][:10]}... not 1..{len(rows)}")
        for e in rows:
            balance += Decimal(str(e["change"]))
            if balance != Decimal(str(e["balance"])):
                out.append(f"{aid}#{e['sequence']}: balance {e['balance']}, running sum {balance}")
                balance = Decimal(str(e["balance"]))
            drawn = draws[(aid, e["sequence"])]
            if e["kind"] in ("usage", "recurring") and drawn != -Decimal(str(e["change"])):
                out.append(f"{aid}#{e['sequence']}: debit {e['change']}, lots drawn {drawn}")
        if balance != Decimal(str(account["balance"])) or lots[aid] != balance:
            out.append(f"{aid}: ledger says {balance}, account {account['balance']}, lots {lots[aid]}")
    return out


def no_second_credit_note_or_refund(s: Snapshot) -> list[str]:
    """At most one credit note and one refund per dispute, and none for a dispute disputes does
    not hold as upheld."""
    out = [f"dispute {d}: {n} credit notes" for d, n in Counter(c["dispute_id"] for c in s.credit_notes).items() if n > 1]
    out += [f"dispute {d}: {n} refunds" for d, n in Counter(r["dispute_id"] for r in s.refunds).items() if n > 1]
    upheld = {d["dispute_id"] for d in s.disputes if d["outcome"] == "upheld"}
    out += [f"{kind} for dispute {row['dispute_id']}, which is not upheld"
            for kind, rows in (("credit note", s.credit_notes), ("refund", s.refunds))
            for row in rows if row["dispute_id"] not in upheld]
    return out


def _money(row: dict, key: str) -> Decimal:
    return Decimal(str(row.get(key) or 0))


def disputes_resolved_as_asked(s: Snapshot) -> list[str]:
    """Each dispute the workload asked for is resolved as asked (invoice, amount, outcome,
    credited) with exactly the credit note of its credit (none when rejected); per invoice, the
    running sums equal its credit notes and refunds, nothing is held back once its disputes are
    resolved, and what it was paid beyond what it owes after the credits was refunded (the
    workload pays before it disputes)."""
    out = []
    rows = {d["dispute_id"]: d for d in s.disputes}
    notes: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for c in s.credit_notes:
        notes[c["dispute_id"]].append((c["invoice_number"], _money(c, "amount")))
    for did, asked in sorted(s.asked_disputes.items()):
        got = rows.get(did)
        if got is None:
            out.append(f"dispute {did}: unknown to disputes")
            continue
        for key in ("invoice_number", "amount", "outcome", "credited"):
            same = (got[key] == asked[key] if key in ("invoice_number", "outcome")
                    else _money(got, key) == _money(asked, key))
            if not same:
                out.append(f"dispute {did}: {key} {got[key]}, asked {asked[key]}")
        wanted = [(asked["invoice_number"], _money(asked, "credited"))] if asked["outcome"] == "upheld" else []
        if sorted(notes[did]) != wanted:
            out.append(f"dispute {did}: credit notes {notes[did]}, expected {wanted}")
    credited, refunded, held = (defaultdict(lambda: ZERO) for _ in range(3))
    for c in s.credit_notes:
        credited[c["invoice_number"]] += _money(c, "amount")
    for r in s.refunds:
        refunded[r["invoice_number"]] += _money(r, "amount")
    for d in s.disputes:
        if d["outcome"] is None:
            held[d["invoice_number"]] += _money(d, "amount")
    for invoice in s.invoices:
        number = invoice["invoice_number"]
        for key, want in (("credited_total", credited[number]), ("refunded_total", refunded[number]),
                          ("disputed_open", held[number])):
            if _money(invoice, key) != want:
                out.append(f"invoice {number}: {key} {invoice.get(key)}, its rows add to {want}")
        owes = _money(invoice, "total") - credited[number] + _money(invoice, "surcharge_total")
        overpaid = max(ZERO, _money(invoice, "paid_total") - owes)
        if refunded[number] != overpaid:
            out.append(f"invoice {number}: refunded {refunded[number]}, overpaid {overpaid}")
    return out


def one_licence_per_user(s: Snapshot) -> list[str]:
    """Each platform user of the workload's customers holds exactly one Insights User licence in
    provisioning (`ins-<customer>-<user>-<n>`), still running, on its account and invoiced; no
    licence belongs to anyone else."""
    out, held = [], defaultdict(list)
    invoiced = {line.get("subscription_id") for invoice in s.invoices for line in invoice["lines"]}
    for licence in s.licences:
        sid = licence["subscription_id"]
        owner = next((key for key in s.licence_users if sid.startswith(f"ins-{key[0]}-{key[1]}-")), None)
        if owner is None:
            out.append(f"licence {sid}: no user of the workload holds it")
        else:
            held[owner].append(licence)
    for (customer, user), account in sorted(s.licence_users.items()):
        licences = held[(customer, user)]
        if len(licences) != 1:
            ids = [x["subscription_id"] for x in licences]
            out.append(f"user {user} of {customer}: {len(licences)} licences {ids}")
            continue
        licence = licences[0]
        if licence["ended_at"] is not None or licence["account_id"] != account:
            out.append(f"licence {licence['subscription_id']}: on {licence['account_id']}, ended {licence['ended_at']}")
        if licence["subscription_id"] not in invoiced:
            out.append(f"licence {licence['subscription_id']}: never invoiced")
    return out


CHECKS: dict[str, Callable[[Snapshot], list[str]]] = {
    "usage_rated_once": usage_rated_once,
    "pieces_billed_once": pieces_billed_once,
    "one_invoice_per_account_and_month": one_invoice_per_account_and_month,
    "gapless_numbers": gapless_numbers,
    "totals_equal_lines": totals_equal_lines,
    "run_reconciled": run_reconciled,
    "no_negative_balance": no_negative_balance,
    "ledgers_balanced": ledgers_balanced,
    "no_second_credit_note_or_refund": no_second_credit_note_or_refund,
    "disputes_resolved_as_asked": disputes_resolved_as_asked,
    "one_licence_per_user": one_licence_per_user,
}


def check(s: Snapshot) -> dict[str, list[str]]:
    """Every invariant's violations (at most 20 each), by name; all empty lists: a pass."""
    return {name: fn(s)[:20] for name, fn in CHECKS.items()}
