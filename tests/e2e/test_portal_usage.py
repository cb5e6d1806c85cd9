"""The portal's usage reports and dashboard: over HTTP (numbers, isolation, hostile periods) and in
a real browser (the picker, the chart, a drill-down), on one platform for the module."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from random import Random

import httpx
import pytest

from contracts import wrap
from contracts.usage import UsageRecordedV1
from tests.support.a11y import check_page
from tests.support.browser import (  # noqa: F401 (fixtures)
    browser, click_and_wait, heading, http_sign_in, portal_platform, screenshot, sign_in,
)
from tests.support.kafka import publish_envelopes
from tests.support.polling import eventually

pytestmark = pytest.mark.infra

ACCOUNT = "demo-partner"  # the replay namespaces the demo's ids and part numbers with `demo-`
MONTH = "2026-10"  # the demo's last usage month (one record without dimensions, 900 pages out)
USERS = [("alice", "Sales", "+442071230001"), ("bob", "Sales", "+442071230002"), ("carol", "Support", "+442071230003")]


def _records() -> list:
    """90 records with dimensions over October 2026 (Europe/London), the last one at 23:30 local
    on the 31st (after the clocks went back on the 25th: 23:30 UTC)."""
    rnd, out = Random(7), []
    start = datetime(2026, 10, 1, 8, tzinfo=timezone.utc)
    for i in range(90):
        user, group, number = USERS[i % 3]
        inbound = i % 3 != 2
        at = start + timedelta(hours=8 * i + rnd.randrange(4)) if i < 89 else datetime(2026, 10, 31, 23, 30,
                                                                                         tzinfo=timezone.utc)
        out.append(UsageRecordedV1(record_id=f"demo-portal-u{i}", account_id=ACCOUNT,
                                   part_number="demo-FAX-PAGE-IN" if inbound else "demo-FAX-PAGE-OUT",
                                   quantity=Decimal(5 + i * 7 % 40), used_at=at, direction="inbound" if inbound else "outbound",
                                   group=group, user=user, number=number))
    return out


RECORDS = _records()
INBOUND = sum(r.quantity for r in RECORDS if r.direction == "inbound")
OUTBOUND = sum(r.quantity for r in RECORDS if r.direction == "outbound")


@pytest.fixture(scope="module")
def usage(portal_platform, infra):
    """The records published, and rating's report of October showing them all."""
    envelopes = [wrap(r, key=ACCOUNT, producer="test", occurred_at=r.used_at) for r in RECORDS]
    asyncio.run(publish_envelopes(infra.kafka, f"{portal_platform.namespace}usage.records", envelopes))
    rating = portal_platform.services["rating"].url
    headers = {"Authorization": f"Bearer {portal_platform.env['BILLING_API_KEY']}"}

    async def stored():
        async with httpx.AsyncClient(base_url=rating, headers=headers) as http:
            body = (await http.get(f"/v1/accounts/{ACCOUNT}/usage", params={"month": MONTH})).json()
            return body["totals"]["records"] == len(RECORDS) + 1
    asyncio.run(eventually(stored, timeout=60, what="the usage records in rating"))
    return RECORDS


@pytest.fixture(scope="module")
def demo(portal_platform, usage):
    with httpx.Client(base_url=portal_platform.url, timeout=60) as http:
        assert http_sign_in(http, portal_platform.demo).status_code == 303
        yield http


def _num(text: str) -> Decimal:
    """A number as the pages write it (`1,234`)."""
    return Decimal(text.replace(",", ""))


def _cells(html: str, caption: str) -> list[list[str]]:
    """The rows of the table with `caption` (text of its th/td cells)."""
    table = html[html.index(caption):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [[re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


def test_usage_page_per_day_summary_and_drill_downs(demo):
    page = demo.get("/usage", params={"account": ACCOUNT, "kind": "month", "month": MONTH})
    assert page.status_code == 200, page.text
    check_page(page.text)
    assert '<svg role="img"' in page.text and "Units used per day" in page.text
    days = _cells(page.text, "Units used each day of the period")[1:]
    assert len(days) == 31 and days[0][0] == "2026-10-01"
    # 23:30 UTC on the 31st is 23:30 GMT: still the 31st in London
    assert days[-1][4] != "0"
    summary = _cells(page.text, "Totals of the period by direction")
    assert ["not given", "—", "demo-FAX-PAGE-OUT", "900", "1"] in summary[1:]  # the demo's record
    inbound_sales = next(r for r in summary if r[:3] == ["inbound", "Sales", "demo-FAX-PAGE-IN"])
    assert _num(inbound_sales[3]) == sum(r.quantity for r in RECORDS if r.direction == "inbound"
                                             and r.group == "Sales")
    users = demo.get("/usage/inbound-users", params={"account": ACCOUNT, "kind": "month", "month": MONTH})
    check_page(users.text)
    rows = {r[0]: r for r in _cells(users.text, "Inbound units per user")[1:]}
    assert set(rows) == {"alice", "bob"} and rows["alice"][1] == "Sales"
    numbers = demo.get("/usage/outbound-numbers", params={"account": ACCOUNT, "kind": "month", "month": MONTH})
    rows = {r[0]: r for r in _cells(numbers.text, "Outbound units per fax number")[1:]}
    assert list(rows) == ["+442071230003"] and _num(rows["+442071230003"][1]) == OUTBOUND


def test_billing_cycle_is_the_month_before(demo):
    page = demo.get("/usage", params={"account": ACCOUNT, "kind": "cycle", "month": "2026-11"})
    assert "Billing cycle invoiced in 2026-11" in page.text and "2026-10-01 to 2026-11-01" in page.text


def test_dashboard_composes_usage_invoices_and_users(demo):
    page = demo.get("/dashboard", params={"account": ACCOUNT, "kind": "month", "month": MONTH})
    assert page.status_code == 200, page.text
    check_page(page.text)
    tiles = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", page.text, re.S))
    assert _num(tiles["Inbound pages"]) == INBOUND
    assert _num(tiles["Outbound pages"]) == OUTBOUND  # the demo's 900 have no direction
    assert (tiles["Users with usage"], tiles["Fax numbers with usage"]) == ("3", "3")
    assert tiles["Open invoices"].startswith("2")  # the demo's two invoices, unpaid
    assert "USD" in tiles["Amount due"]


@pytest.mark.parametrize("who", ["other", "admin"])
def test_another_partner_or_a_customer_s_administrator_sees_none_of_it(portal_platform, usage, who):
    with httpx.Client(base_url=portal_platform.url, timeout=60) as http:
        http_sign_in(http, getattr(portal_platform, who))
        for path in ("/usage", "/usage/inbound-users", "/usage/outbound-numbers", "/dashboard"):
            answer = http.get(path, params={"account": ACCOUNT, "month": MONTH})
            assert answer.status_code == 404, (path, answer.status_code)
            assert "alice" not in answer.text
        own = http.get("/usage", params={"month": MONTH})  # their own account: no records of the demo's
        assert own.status_code == 200 and "alice" not in own.text


@pytest.mark.parametrize(("params", "says"), [
    ({"kind": "range", "from": "2026-10-10", "to": "2026-10-01"}, "`to` must be after `from`"),
    ({"kind": "range", "from": "2020-01-01", "to": "2026-10-01"}, "at most 366 days"),
    ({"kind": "range", "from": "2026-02-30", "to": "2026-03-01"}, "is not a date"),
    ({"kind": "month", "month": "2026-13"}, "is not a month"),
    ({"kind": "range", "from": "", "to": ""}, "from"),
])
def test_hostile_periods_are_refused_on_the_page(demo, params, says):
    page = demo.get("/usage", params={"account": ACCOUNT, **params})
    assert page.status_code == 422 and says in page.text, page.text[-2000:]
    assert 'role="alert"' in page.text and "<form" in page.text  # the picker stays, to correct it


def test_in_a_browser_pick_a_month_see_the_chart_and_drill_down(portal_platform, browser, usage):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    sign_in(browser, portal_platform.url, portal_platform.demo)
    browser.get(portal_platform.url + "/dashboard")
    assert heading(browser) == "Dashboard"
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Usage"))
    Select(browser.find_element(By.ID, "picker-kind")).select_by_value("month")
    Select(browser.find_element(By.ID, "picker-month")).select_by_visible_text(MONTH)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.picker button[type=submit]"))
    assert f"month={MONTH}" in browser.current_url
    bars = browser.find_elements(By.CSS_SELECTOR, "svg rect.bar-inbound")
    assert len(bars) >= 25  # a bar on (nearly) every day of October
    screenshot(browser, "usage")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "inbound per user"))
    assert heading(browser) == "Inbound usage per user"
    assert "alice" in browser.find_element(By.TAG_NAME, "table").text
    browser.get(portal_platform.url + f"/dashboard?account={ACCOUNT}&kind=month&month={MONTH}")
    screenshot(browser, "dashboard")
