"""Pages and PDFs from one set of Jinja2 templates (PDFs through WeasyPrint and a print stylesheet)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from services.portal.sessions import csrf_token

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def money(value: Any, currency: str = "", minus: bool = False) -> str:
    """A decimal string as `1,234.56 EUR` (the APIs send amounts as exact strings); `minus`: an
    amount that is subtracted (payments, credit notes), shown `−1,234.56 EUR` unless zero."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    places = -amount.as_tuple().exponent if amount.as_tuple().exponent < 0 else 0
    text = ("−" if minus and amount else "") + f"{amount:,.{places}f}"
    return f"{text} {currency}".strip()


def day(value: Any) -> str:
    """The date part of an ISO instant or date (`2026-05-01T00:00:00+00:00` -> `2026-05-01`)."""
    return str(value or "")[:10]


def last_day(value: Any) -> str:
    """The last day of a half-open period ending at `value` (the API's `to` is exclusive)."""
    text = day(value)
    try:
        return (date.fromisoformat(text) - timedelta(days=1)).isoformat()
    except ValueError:
        return text


templates.env.filters["money"] = money
templates.env.filters["day"] = day
templates.env.filters["last_day"] = last_day


def _context(request: Request, context: dict[str, Any], pdf: bool) -> dict[str, Any]:
    return {"request": request, "user": getattr(request.state, "user", None), "pdf": pdf,
            "csrf_token": (lambda: csrf_token(request)), "css_href": STATIC.joinpath("portal.css").as_uri()
            if pdf else "/static/portal.css", **context}


def page(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200) -> HTMLResponse:
    """The template `name` as an HTML page."""
    return templates.TemplateResponse(request, name, _context(request, context or {}, False), status_code=status)


def _pdf_bytes(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads pango, which takes a moment

    return HTML(string=html, base_url=str(STATIC)).write_pdf()


async def pdf(request: Request, name: str, context: dict[str, Any], filename: str) -> Response:
    """The same template as a PDF (print stylesheet: no navigation, no forms), rendered off the loop."""
    html = templates.get_template(name).render(_context(request, context, True))
    body = await asyncio.to_thread(_pdf_bytes, html)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
