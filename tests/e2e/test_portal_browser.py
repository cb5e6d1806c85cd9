"""The portal in a real browser (headless Chromium): sign in as the demo partner, open each page,
follow an invoice to its PDF, and meet a 404 at another partner's invoice."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import browser, portal_platform, screenshot, sign_in  # noqa: F401 (fixtures)

pytestmark = pytest.mark.infra


def _h1(driver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def test_sign_in_invoices_invoice_pdf_statement_and_isolation(browser, portal_platform):
    portal = portal_platform
    browser.get(portal.url + "/invoices")
    assert _h1(browser) == "Sign in"  # sent to sign in first
    screenshot(browser, "sign-in")
    sign_in(browser, portal.url, portal.demo)
    assert _h1(browser) == "Invoices"
    rows = browser.find_elements(By.CSS_SELECTOR, "table.data tbody tr")
    assert len(rows) == 2 and all("demo-partner" in r.text for r in rows)
    screenshot(browser, "invoices")

    october = portal.numbers["demo-partner"][0]
    browser.find_element(By.LINK_TEXT, october).click()
    assert _h1(browser) == f"Invoice {october}"
    captions = [c.text for c in browser.find_elements(By.TAG_NAME, "caption")]
    assert any("Customer demo-acme" in c for c in captions)
    screenshot(browser, "invoice")

    pdf_href = browser.find_element(By.LINK_TEXT, "Download PDF").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    pdf = httpx.get(pdf_href, cookies=cookies, timeout=60)  # what the browser would download
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    browser.find_element(By.LINK_TEXT, "Statements").click()
    assert _h1(browser) == "Statements"
    browser.find_element(By.LINK_TEXT, "2026-10").click()
    assert _h1(browser).startswith("Statement 2026-10")
    assert browser.find_element(By.ID, "closing-balance").text
    screenshot(browser, "statement")

    # another partner's invoice (the same demo loaded as other-partner) does not exist for this one
    browser.get(portal.url + f"/invoices/{portal.numbers['other-partner'][0]}")
    assert _h1(browser) == "Not found"


def test_sign_out_returns_to_sign_in(browser, portal_platform):
    sign_in(browser, portal_platform.url, portal_platform.demo)
    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    assert _h1(browser) == "Sign in"
    browser.get(portal_platform.url + "/invoices")
    assert _h1(browser) == "Sign in"
