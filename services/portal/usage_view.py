"""What the usage and dashboard pages compute beside the APIs' data: periods, chart bars, open invoices. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

KINDS = {"month": "Calendar month", "cycle": "Billing cycle (invoiced that month)", "range": "Dates"}
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
CHART_WIDTH, CHART_HEIGHT = 720, 200  # the SVG's user units; it scales to the page's width


@dataclass(frozen=True)
class Choice:
    """A period as the picker sends it: `kind` and either `month` (month, cycle) or `start`/`end`."""

    kind: str = "month"
    month: str | None = None
    start: date | None = None
    end: date | None = None

    def params(self) -> dict[str, str]:
        """The query of rating's usage routes (and of the portal's own links)."""
        if self.kind == "range":
            return {"from": self.start.isoformat() if self.start else "", "to": self.end.isoformat() if self.end else ""}
        return {self.kind: self.month or ""}


def choose(kind: str | None, month: str | None, start: str | None, end: str | None, today: date) -> Choice:
    """The picker's choice from its fields as sent (empty ones ignored), this calendar month by
    default (`today`: a page's default only). ValueError, saying which field, for a month or a
    date that is not one; the period's own rules (order, length) are rating's."""
    kind = kind if kind in KINDS else "month"
    if kind == "range":
        return Choice("range", start=_date(start, "From"), end=_date(end, "To"))
    if month and not MONTH.fullmatch(month):
        raise ValueError(f"Month: {month[:20]!r} is not a month (YYYY-MM)")
    return Choice(kind, month or today.strftime("%Y-%m"))


def _date(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text[:20]!r} is not a date (YYYY-MM-DD)") from None


def month_options(today: date, count: int = 13) -> list[str]:
    """The last `count` months, this one first (offsets from one anchor, never repeated steps)."""
    anchor = today.replace(day=1)
    return [(anchor - relativedelta(months=n)).strftime("%Y-%m") for n in range(count)]


def _nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (> 0): the chart's top."""
    step = Decimal(1)
    while step * 10 <= value:
        step *= 10
    while step > value:  # fractions of a unit
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def chart(days: list[dict]) -> dict:
    """A stacked bar per day (inbound at the bottom, then outbound, then records without a
    direction), in the SVG's user units: `bars` with x, width and each part's y and height, the
    `top` of the scale and its `ticks` (0, half, top)."""
    values = [(Decimal(d["inbound"]), Decimal(d["outbound"]), Decimal(d["unspecified"])) for d in days]
    highest = max((sum(v) for v in values), default=Decimal(0))
    top = _nice_ceiling(highest) if highest > 0 else Decimal(1)
    slot = Decimal(CHART_WIDTH) / max(len(days), 1)
    gap = slot * Decimal("0.15") if slot >= 4 else Decimal(0)
    bars = []
    for i, (day, parts) in enumerate(zip(days, values)):
        y = Decimal(CHART_HEIGHT)
        pieces = []
        for name, value in zip(("inbound", "outbound", "unspecified"), parts):
            height = Decimal(CHART_HEIGHT) * value / top
            y -= height
            pieces.append({"kind": name, "y": _n(y), "height": _n(height)} if value else None)
        bars.append({"date": day["date"], "x": _n(slot * i + gap / 2), "width": _n(slot - gap),
                     "parts": [p for p in pieces if p], "total": sum(parts), **dict(zip(("inbound", "outbound",
                                                                                          "unspecified"), parts))})
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "top": top, "bars": bars,
            "total": sum((sum(v) for v in values), Decimal(0)),
            "ticks": [{"value": v, "y": _n(Decimal(CHART_HEIGHT) - Decimal(CHART_HEIGHT) * v / top)}
                      for v in (Decimal(0), top / 2, top)]}


def units(value) -> str:
    """Units as people read them: `1,234.5` (thousands grouped, no trailing zeros; exact)."""
    amount = Decimal(str(value)).normalize()
    if amount == amount.to_integral():
        return f"{amount.to_integral():,f}"
    return f"{amount:,f}"


def _n(value: Decimal) -> str:
    """A coordinate for SVG: two decimals are plenty."""
    return f"{value:.2f}"


def open_invoices(invoices: list[dict]) -> dict:
    """The invoices still to pay (`outstanding` > 0) and the amounts due per currency."""
    open_ = [i for i in invoices if Decimal(i.get("outstanding") or 0) > 0]
    due: dict[str, Decimal] = {}
    for invoice in open_:
        due[invoice["currency"]] = due.get(invoice["currency"], Decimal(0)) + Decimal(invoice["outstanding"])
    return {"count": len(open_), "due": sorted(due.items()), "overdue": sum(i.get("status") == "overdue" for i in open_)}
