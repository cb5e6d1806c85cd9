"""`billing scenario replay` of version-2 files (FORMAT.md "Version 2"): the platform on manual
clocks is moved to each event's instant and to each local midnight of its prepaid accounts up to
`until` (cli/scenarios/settle.py) before the event is sent; vouchers go to prepaid_credit's API,
payments to invoicing's, disputes to the disputes API; the outputs are read back from those APIs
(and the notices from `prepaid_credit.events`) as of `until`.

Namespacing as for version 1 (replay.py): ids carry the replay's prefix. Voucher codes are letters
and digits only, so a valid code gets the prefix without its dash (an invalid one is sent as it
is, to be refused as it is). The scenario's accounts are opened under an issuer account of the
replay's own, so its `issuer` calendar and invoice numbers touch no other replay's.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer

from cli.consumption import partitions_of
from contracts.envelope import Envelope
from contracts.topics import PREPAID_CREDIT_EVENTS
from services.prepaid_credit.domain import valid_code
from shared.kafka_security import client_options

from .model import MONEY_EVENTS, DisputeOpened, DisputeResolved, Payment, ScenarioModel, VoucherIssued
from .prepaid import VOUCHER_EVENTS, instant_json
from .settle import SettleError, Settler, stops

if TYPE_CHECKING:
    from .replay import Replay

V2_EVENTS = VOUCHER_EVENTS + MONEY_EVENTS
V2_OUTPUTS = ("invoice_balances", "statements", "credit_notes", "refunds", "disputes", "credit", "notices")
NOTICES = {"prepaid_credit.balance.low": "low_balance", "prepaid_credit.balance.exhausted": "exhausted"}
# a request the API's typed fields refuse as a whole is, for the scenario, a bad amount or voucher
INVALID = {"voucher_issued": "invalid_voucher", "voucher_redeemed": "invalid_voucher"}
MAX_CODE = 32


def is_version_2(scenario: ScenarioModel) -> bool:
    """Whether the file uses version 2 (so its replay needs the platform on manual clocks)."""
    return (scenario.until is not None or "issuer" in scenario.model_fields_set
            or any(a.mode == "prepaid" or "low_balance_threshold" in a.model_fields_set for a in scenario.accounts)
            or any(isinstance(e, V2_EVENTS) for e in scenario.events)
            or any(k in (scenario.expected or {}) for k in V2_OUTPUTS))


class Version2:
    """The version-2 half of one replay; `replay` gives the HTTP client, namespace and endpoints."""

    def __init__(self, replay: "Replay") -> None:
        self.replay, self.scenario = replay, replay.scenario
        self.until = self.scenario.until_or_last
        self.issuer = replay.state.id("issuer")
        prepaid_zones = [a.time_zone for a in self.scenario.accounts if a.mode == "prepaid"]
        self.stops = stops([e.at for e in self.scenario.events], prepaid_zones, self.until) if self.until else []
        self.done = 0  # stops settled
        self.deadlines_of: set[str] = set()  # accounts whose refunds to look up after an event
        self.dispute_account: dict[str, str] = {}

    # ------------------------------------------------------------ time
    async def check_clocks(self, http) -> None:
        """Refuse, before anything is sent, a platform on the system clock or whose clocks are
        past the file's first instant."""
        e, s = self.replay.endpoints, self.replay.settings
        self.settler = Settler(http, e.clock_urls(), s.kafka_bootstrap_servers, s.topic_prefix, e.timeout)
        clocks = await self.settler.clocks()
        first = self.stops[0] if self.stops else None
        ahead = {svc: c["at"] for svc, c in clocks.items() if first and datetime.fromisoformat(c["at"]) > first}
        if ahead:
            raise SettleError(f"the platform's clocks are past this file's first instant {first.isoformat()} "
                              f"({ahead}); they only move forward: replay files in time order, or restart "
                              "the platform (its clocks start at BILLING_CLOCK_START)")

    async def start(self) -> None:
        await self.settler.__aenter__()
        self.started = True
        self.notices = await self._watch_notices()

    async def stop(self) -> None:
        if getattr(self, "notices", None) is not None:
            await self.notices.stop()
        if getattr(self, "started", False):
            await self.settler.__aexit__()

    async def applied(self, at: datetime) -> None:
        """An event was sent at `at`: let what it caused come to rest at that instant, before the
        clocks move on (a usage record must reach rating before the next midnight's debit); then
        stop at the deadlines it made too (an invoice's, a dispute's, a refund's)."""
        await self.settler.settle(at)
        for inv in self.replay.state.invoices:  # past due from 00:00 (account zone) after the due date
            day = date.fromisoformat(inv["due_date"]) + timedelta(days=1)
            self.stop_at(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.replay.zones[inv["account"]])))
        for account in self.deadlines_of:
            for rf in await self._get(f"{self.replay.endpoints.invoicing}/v1/accounts/{account}/refunds"):
                self.stop_at(datetime.fromisoformat(rf["due_at"]))
        self.deadlines_of.clear()

    def stop_at(self, at: datetime) -> None:
        """One more stop, when it lies ahead and by `until` (the ones behind are settled)."""
        settled = self.stops[self.done - 1] if self.done else None
        if at <= self.until and (settled is None or at > settled) and at not in self.stops:
            bisect.insort(self.stops, at)

    async def advance_to(self, at: datetime) -> None:
        """Settle every stop before `at`, then `at` itself (again, if it was a stop already: the
        previous event's effects come to rest before this one is sent)."""
        while self.done < len(self.stops) and self.stops[self.done] < at:
            await self.settler.settle(self.stops[self.done])
            self.done += 1
        await self.settler.settle(at)
        while self.done < len(self.stops) and self.stops[self.done] <= at:
            self.done += 1

    # ------------------------------------------------------------ accounts and issuer
    def account_fields(self, account) -> dict:
        return {"parent_account_id": self.issuer, "mode": account.mode,
                "low_balance_threshold": account.low_balance_threshold}

    async def open_issuer(self) -> None:
        """The replay's own issuer (an account above the scenario's) and its dispute calendar."""
        r = self.replay
        await r._provision("/v1/accounts", {
            "account_id": self.issuer, "name": "scenario issuer", "time_zone": self.scenario.issuer.time_zone,
            "currency": self.scenario.catalog.currency, "automatic_runs": False, "at": "2000-01-01T00:00:00+00:00"},
            None)
        cal = self.scenario.issuer
        answer = await r.http.put(f"{r.endpoints.disputes}/v1/issuers/{self.issuer}/calendar",
                                  json={"time_zone": cal.time_zone, "holidays": [d.isoformat() for d in cal.holidays]})
        if answer.status_code >= 300:
            raise SettleError(f"PUT the issuer's calendar answered {answer.status_code}: {answer.text}")

    # ------------------------------------------------------------ events
    def code(self, voucher: str) -> str:
        if not valid_code(voucher):
            return voucher
        prefix = self.replay.state.ns.replace("-", "")
        return prefix[:max(0, MAX_CODE - len(voucher))] + voucher

    def invoice_number(self, account: str, month: str) -> str | None:
        return next((i["invoice_number"] for i in self.replay.state.invoices
                     if i["account"] == account and i["month"] == month), None)

    async def apply(self, index: int, e) -> None:
        r, s = self.replay, self.replay.state
        if isinstance(e, VoucherIssued):
            body = {"codes": [self.code(e.voucher)], "credits": e.credits, "lifetime_days": e.lifetime_days}
            await self._post(index, e.type, r.endpoints.prepaid_credit, "/v1/vouchers", body)
        elif e.type == "voucher_redeemed":
            await self._post(index, e.type, r.endpoints.prepaid_credit, f"/v1/accounts/{s.id(e.account)}/redemptions",
                             {"code": self.code(e.voucher)})
        elif isinstance(e, (Payment, DisputeOpened)):
            number = self.invoice_number(e.account, e.month)
            if number is None:
                s.rejections.append({"event": index, "reason": "unknown_invoice"})
            elif isinstance(e, Payment):
                await self._post(index, e.type, r.endpoints.invoicing, f"/v1/invoices/{number}/payments",
                                 {"amount": e.amount, "method": e.method, "payment_id": s.id(e.id)})
            else:
                opened = await self._post(index, e.type, r.endpoints.disputes, "/v1/disputes", {
                    "dispute_id": s.id(e.dispute), "invoice_number": number, "amount": e.amount, "reason": e.reason})
                if opened:
                    self.stop_at(datetime.fromisoformat(opened["due_at"]))
                    self.dispute_account[e.dispute] = s.id(e.account)
        elif isinstance(e, DisputeResolved):
            await self._post(index, e.type, r.endpoints.disputes, f"/v1/disputes/{s.id(e.dispute)}/resolution",
                             {"outcome": e.outcome, "credited": e.credit})
            if e.dispute in self.dispute_account:  # an upheld one may leave a refund, due 24 hours later
                self.deadlines_of.add(self.dispute_account[e.dispute])

    async def _post(self, index: int, kind: str, base: str, path: str, body: dict) -> dict | None:
        """The answer's body, or None when the event was refused (recorded as its rejection)."""
        answer = await self.replay.http.post(base + path, json=body)
        if answer.status_code < 300:
            return answer.json()
        reason = answer.json().get("reason") if "json" in answer.headers.get("content-type", "") else None
        if reason and 400 <= answer.status_code < 500 and answer.status_code not in (401, 403):
            if reason == "invalid_request":
                reason = INVALID.get(kind, "invalid_amount")
            self.replay.state.rejections.append({"event": index, "reason": reason})
            return None
        raise SettleError(f"POST {path} answered {answer.status_code}: {answer.text}")

    # ------------------------------------------------------------ outputs as of `until`
    async def outputs(self) -> dict:
        while self.done < len(self.stops):
            await self.settler.settle(self.stops[self.done])
            self.done += 1
        out = {"invoice_balances": [], "statements": [], "credit_notes": [], "refunds": [], "disputes": [],
               "credit": [], "notices": await self._notices()}
        for account in self.scenario.accounts:
            if account.mode == "prepaid":
                out["credit"].append(await self._credit(account))
            else:
                await self._money(account, out)
        return out

    async def _get(self, url: str):
        answer = await self.replay.http.get(url)
        if answer.status_code != 200:
            raise SettleError(f"GET {url} answered {answer.status_code}: {answer.text}")
        return answer.json()

    async def _credit(self, account) -> dict:
        s = self.replay.state
        c = await self._get(f"{self.replay.endpoints.prepaid_credit}/v1/accounts/{s.id(account.id)}/credit?limit=10000")
        history = [{"at": h["at"], "kind": h["kind"], "amount": h["amount"], "balance": h["balance"],
                    **({"shortfall": h["shortfall"]} if float(h["shortfall"]) else {})}
                   for h in reversed(c["history"])]
        return {"account": account.id, "balance": c["balance"], "shortfall": c["shortfall"],
                "lifetime_estimate": c["lifetime_estimate"], "history": history}

    async def _money(self, account, out: dict) -> None:
        r, s = self.replay, self.replay.state
        mine = [i for i in s.invoices if i["account"] == account.id]
        month_of = {i["invoice_number"]: i["month"] for i in mine}
        for inv in mine:
            a = (await self._get(f"{r.endpoints.invoicing}/v1/invoices/{inv['invoice_number']}"))["amounts"]
            out["invoice_balances"].append({"account": account.id, "month": inv["month"], **{
                k: a[k] for k in ("total", "credited", "paid", "surcharges", "outstanding", "overdue", "status")}})
        if not mine:
            return
        acc = s.id(account.id)
        first = min(date.fromisoformat(i["issue_date"]) for i in mine)
        for month in _months(first, self.until.astimezone(ZoneInfo(account.time_zone)).date()):
            st = await self._get(f"{r.endpoints.invoicing}/v1/accounts/{acc}/statements/{month}")
            out["statements"].append({"account": account.id, "month": month, **{k: st[k] for k in (
                "balance_forward", "new_charges", "payments", "credit_notes", "refunds", "closing_balance")}})
        for cn in await self._get(f"{r.endpoints.invoicing}/v1/accounts/{acc}/credit-notes"):
            out["credit_notes"].append({"account": account.id, "month": month_of.get(cn["invoice_number"]),
                                        "dispute": s.strip(cn["dispute_id"]), "amount": cn["amount"],
                                        "at": cn["issued_at"]})
        for rf in await self._get(f"{r.endpoints.invoicing}/v1/accounts/{acc}/refunds"):
            out["refunds"].append({"account": account.id, "month": month_of.get(rf["invoice_number"]),
                                   "dispute": s.strip(rf["dispute_id"]), "amount": rf["amount"], "due_at": rf["due_at"]})
        for d in await self._get(f"{r.endpoints.disputes}/v1/accounts/{acc}/disputes"):
            out["disputes"].append({"dispute": s.strip(d["dispute_id"]), "account": account.id,
                                    "month": month_of.get(d["invoice_number"]), "amount": d["amount"],
                                    "credited": d["credited"], "due_at": d["due_at"], "status": d["status"],
                                    "late": d["late"]})

    # ------------------------------------------------------------ notices
    async def _watch_notices(self) -> AIOKafkaConsumer:
        """A group-less consumer of prepaid_credit.events from its current end: our notices."""
        s = self.replay.settings
        partitions = await partitions_of(s.kafka_bootstrap_servers, [s.topic(PREPAID_CREDIT_EVENTS.name)])
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap_servers, **client_options(),
                                    group_id=None, enable_auto_commit=False)
        await consumer.start()
        consumer.assign(partitions)
        for tp, end in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, end)
        return consumer

    async def _notices(self) -> list[dict]:
        """Every low-balance and exhausted notice of our accounts published so far (the last
        stop settled, so all of them are on the topic), oldest first."""
        consumer, ns, out = self.notices, self.replay.state.ns, []
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    envelope = Envelope.decode(record.value)
                    kind = NOTICES.get(envelope.type)
                    if kind and envelope.key.startswith(ns):
                        p = envelope.payload
                        out.append({"account": self.replay.state.strip(p["account_id"]), "kind": kind,
                                    "at": instant_json(datetime.fromisoformat(p["at"])), "balance": p["balance"]})
        return sorted(out, key=lambda n: n["at"])


def _months(first: date, last: date) -> list[str]:
    """`YYYY-MM` of every month from `first`'s to `last`'s, both included."""
    out, (y, m) = [], (first.year, first.month)
    while (y, m) <= (last.year, last.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out
