"""The portal's core on one platform per module: over HTTP (sign-in, sessions, CSRF, isolation,
invoices, statements, PDFs, CDRs, accessibility) and in a real browser (headless Chromium)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest

from tests.support.a11y import check_page
from tests.support.http import bearer
from selenium.webdriver.common.by import By

from tests.support.browser import (browser, chrome, click_and_wait, csrf_of, heading, http_sign_in,  # noqa: F401
                                   portal_platform, screenshot, sign_in)

pytestmark = pytest.mark.infra


def _client(platform) -> httpx.Client:
    return httpx.Client(base_url=platform.url, timeout=60)


@pytest.fixture(scope="module")
def demo(portal_platform):
    with _client(portal_platform) as http:
        assert http_sign_in(http, portal_platform.demo).status_code == 303
        yield http


@pytest.fixture(scope="module")
def numbers(demo):
    """The demo partner's invoice numbers, from its invoices page."""
    found = re.findall(r'href="/invoices/([^"/]+)"', demo.get("/invoices").text)
    assert len(found) == 2, found
    return found


@pytest.fixture(scope="module")
def other_numbers(portal_platform):
    with _client(portal_platform) as http:
        http_sign_in(http, portal_platform.other)
        shown = re.findall(r'href="/invoices/([^"/]+)"', http.get("/invoices").text)
    assert sorted(shown) == portal_platform.numbers["other-partner"]
    return shown


def _pdf_text(body: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("no pdftotext: run `make browser-deps`")
    path = tmp_path / "doc.pdf"
    path.write_bytes(body)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_pages_need_a_session(portal_platform):
    with _client(portal_platform) as http:
        for path in ("/", "/invoices", "/invoices/PLATFORM-000001", "/statements"):
            r = http.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (path, r.status_code)


def test_wrong_password_is_refused_and_says_so(portal_platform):
    with _client(portal_platform) as http:
        bad = http_sign_in(http, type(portal_platform.demo)(portal_platform.demo.email, "wrong password!", ""))
        assert bad.status_code == 401 and "Wrong e-mail address or password" in bad.text
        unknown = http_sign_in(http, type(portal_platform.demo)("nobody@demo.example", "wrong password!", ""))
        assert unknown.status_code == 401 and "Wrong e-mail address or password" in unknown.text
        assert http.get("/invoices").status_code == 303


def test_five_failures_for_one_address_refuse_it_for_a_while_not_others(portal_platform):
    login = type(portal_platform.demo)
    with _client(portal_platform) as http:
        for _ in range(5):
            assert http_sign_in(http, login("guess@demo.example", "not the password", "")).status_code == 401
        blocked = http_sign_in(http, login("guess@demo.example", "not the password", ""))
        assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
        assert http_sign_in(http, portal_platform.demo).status_code == 303  # same client, another address


def test_the_session_cookie_is_signed_http_only_same_site_and_expires(portal_platform):
    with _client(portal_platform) as http:
        answer = http_sign_in(http, portal_platform.demo)
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
        page = http.get("/invoices")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        # a forged cookie is not a session
        http.cookies.set("portal_session", "eyJzaWQiOiAieCJ9.forged.signature")
        assert http.get("/invoices").status_code == 303


def test_a_form_without_its_csrf_token_is_refused(portal_platform):
    with _client(portal_platform) as http:
        http.get("/login")
        r = http.post("/login", data={"email": portal_platform.demo.email, "password": portal_platform.demo.password})
        assert r.status_code == 403 and "Form expired" in r.text
        r = http.post("/login", data={"email": portal_platform.demo.email, "password": portal_platform.demo.password,
                                      "csrf_token": "not-the-token"})
        assert r.status_code == 403


def test_sign_out_ends_the_session_even_for_a_copied_cookie(portal_platform):
    with _client(portal_platform) as http:
        http_sign_in(http, portal_platform.demo)
        copied = dict(http.cookies)
        page = http.get("/invoices")
        assert page.status_code == 200
        assert http.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        with _client(portal_platform) as thief:
            thief.cookies.update(copied)
            assert thief.get("/invoices").status_code == 303


def test_invoices_list_shows_only_the_partners_own(demo, numbers, other_numbers):
    page = demo.get("/invoices").text
    assert "demo-partner" in page and "other-partner" not in page
    assert other_numbers and not set(other_numbers) & set(numbers)


def test_invoice_page_groups_lines_by_customer_and_says_how_to_pay(demo, numbers):
    page = demo.get(f"/invoices/{numbers[-1]}")  # October's: acme and globex
    assert page.status_code == 200, page.text
    text = page.text
    assert "Customer demo-acme" in text and "Customer demo-globex" in text
    assert "IBAN" in text and f"Reference</dt><dd>{numbers[-1]}" in text
    assert "3,000.00" in text and "3% of the amount paid by card" in text
    check_page(text)


def test_another_partners_invoice_answers_404(demo, other_numbers):
    for path in (f"/invoices/{other_numbers[0]}", f"/invoices/{other_numbers[0]}/pdf",
                 "/statements/other-partner/2026-10", "/statements/other-partner/2026-10/pdf",
                 "/statements/other-partner/2026-10/cdr.csv", "/invoices/NO-SUCH-INVOICE"):
        r = demo.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "Not found" in r.text


def test_an_account_administrator_sees_only_its_account(portal_platform, numbers):
    with _client(portal_platform) as http:
        assert http_sign_in(http, portal_platform.admin).status_code == 303
        page = http.get("/invoices")
        assert page.status_code == 200 and "No invoices yet" in page.text and "demo-partner" not in page.text
        for path in (f"/invoices/{numbers[0]}", "/statements/demo-partner/2026-10"):
            assert http.get(path).status_code == 404, path


def test_invoice_pdf_has_the_numbers_dates_and_total(demo, numbers, tmp_path):
    invoice_page = demo.get(f"/invoices/{numbers[-1]}").text
    total = re.search(r'id="invoice-total">([^<]+)<', invoice_page).group(1).strip()
    pdf = demo.get(f"/invoices/{numbers[-1]}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content, tmp_path)
    assert numbers[-1] in text and total in text and "2026-10-01" in text and "2026-10-31" in text
    assert "Sign out" not in text  # the print stylesheet drops navigation and forms


def test_statement_page_pdf_and_cdr_csv(demo, tmp_path):
    index = demo.get("/statements")
    assert index.status_code == 200 and "/statements/demo-partner/2026-10" in index.text
    page = demo.get("/statements/demo-partner/2026-10")
    assert page.status_code == 200, page.text
    check_page(page.text)
    closing = re.search(r'id="closing-balance">([^<]+)<', page.text).group(1).strip()
    assert "Balance forward" in page.text and "New charges" in page.text
    text = _pdf_text(demo.get("/statements/demo-partner/2026-10/pdf").content, tmp_path)
    assert "Statement 2026-10" in text and closing in text and "Closing balance" in text
    cdr = demo.get("/statements/demo-partner/2026-10/cdr.csv")
    assert cdr.status_code == 200 and cdr.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(cdr.text)))
    # October's one usage record: 900 fax pages on 2026-10-20 (cli/demo/demo.json)
    assert len(rows) == 1 and Decimal(rows[0]["quantity"]) == 900, cdr.text


def test_each_page_is_accessible(demo, numbers):
    for path in ("/invoices", f"/invoices/{numbers[0]}", "/statements", "/statements/demo-partner/2026-11"):
        check_page(demo.get(path).text)
    with httpx.Client(base_url=str(demo.base_url)) as anonymous:
        check_page(anonymous.get("/login").text)


def test_a_card_payment_shows_on_the_invoice_its_pdf_and_the_statement(demo, numbers, portal_platform, api_keys,
                                                                        tmp_path):
    """1,000.00 by card on October's invoice (7,106.47: over the 3,000.00 threshold): the payment and
    its 3% surcharge (30.00) on the page and the PDF; the payment on its month's statement."""
    october = numbers[-1]
    paid = httpx.post(f"{portal_platform.services['invoicing'].url}/v1/invoices/{october}/payments",
                      headers=bearer(api_keys.operator), timeout=30,
                      json={"amount": "1000.00", "method": "card", "payment_id": "portal-card-1"})
    assert paid.status_code == 201, paid.text
    page = demo.get(f"/invoices/{october}").text
    assert "portal-card-1" in page and "1,000.00 USD" in page and "30.00 USD" in page
    assert "6,136.47 USD" in page  # outstanding: 7,106.47 + 30.00 - 1,000.00
    text = _pdf_text(demo.get(f"/invoices/{october}/pdf").content, tmp_path)
    assert "portal-card-1" in text and "6,136.47" in text
    month = paid.json().get("paid_at", "")[:7] or datetime.now(timezone.utc).strftime("%Y-%m")
    statement = demo.get(f"/statements/demo-partner/{month}").text
    assert "payment (card)" in statement and "−1,000.00 USD" in statement


# ------------------------------------------------------------------ in the browser
def test_browser_sign_in_invoices_invoice_pdf_statement_and_isolation(browser, portal_platform):
    portal = portal_platform
    browser.get(portal.url + "/invoices")
    assert heading(browser) == "Sign in"  # sent to sign in first
    screenshot(browser, "sign-in")
    sign_in(browser, portal.url, portal.demo)
    assert heading(browser) == "Invoices"
    rows = browser.find_elements(By.CSS_SELECTOR, "table.data tbody tr")
    assert len(rows) == 2 and all("demo-partner" in r.text for r in rows)
    screenshot(browser, "invoices")

    october = portal.numbers["demo-partner"][0]
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, october))
    assert heading(browser) == f"Invoice {october}"
    captions = [c.text for c in browser.find_elements(By.TAG_NAME, "caption")]
    assert any("Customer demo-acme" in c for c in captions)
    screenshot(browser, "invoice")

    pdf_href = browser.find_element(By.LINK_TEXT, "Download PDF").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    pdf = httpx.get(pdf_href, cookies=cookies, timeout=60)  # what the browser downloads
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Statements"))
    assert heading(browser) == "Statements"
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "2026-10"))
    assert heading(browser).startswith("Statement 2026-10")
    assert browser.find_element(By.ID, "closing-balance").text
    screenshot(browser, "statement")

    # another partner's invoice does not exist for this one
    browser.get(portal.url + f"/invoices/{portal.numbers['other-partner'][0]}")
    assert heading(browser) == "Not found"


def test_the_icon_is_served_and_named_by_every_page(demo):
    """Browsers ask for an icon on every page: without one each page load logged a 404 (in the
    console, and in the portal's own 4xx figures)."""
    page = demo.get("/invoices").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    icon = demo.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    with httpx.Client(base_url=demo.base_url, timeout=30) as anonymous:  # no session needed
        by_name = anonymous.get("/favicon.ico")
        assert by_name.status_code == 301 and by_name.headers["location"] == "/static/favicon.svg"
        assert anonymous.get("/static/favicon.svg").status_code == 200


def test_browser_pages_load_without_console_errors(portal_platform):
    """Every page area, as a browser of its own loads it from the sign-in on (a browser asks for
    the icon once and remembers the answer): nothing it asks for fails (styles, the icon) and
    nothing breaks the content security policy."""
    driver = chrome()
    try:
        sign_in(driver, portal_platform.url, portal_platform.demo)
        # (the disputes pages need the disputes service, which this module's platform does not run)
        for path in ("/dashboard", "/invoices", f"/invoices/{portal_platform.numbers['demo-partner'][0]}",
                     "/statements", "/credit", "/customers", "/usage"):
            driver.get(portal_platform.url + path)
            assert heading(driver), path
        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
    finally:
        driver.quit()


def test_browser_sign_out_returns_to_sign_in(browser, portal_platform):
    sign_in(browser, portal_platform.url, portal_platform.demo)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert heading(browser) == "Sign in"
    browser.get(portal_platform.url + "/invoices")
    assert heading(browser) == "Sign in"
