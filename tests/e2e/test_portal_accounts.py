"""The portal's account pages on a running platform: credit history with the voucher and threshold
forms, the Account Portal, disputes; their refusals on the form, another partner's ids as 404, an
account administrator kept to its account; then a browser redeems, provisions and disputes."""

from __future__ import annotations

import asyncio
import contextlib
import re

import httpx
import pytest

from cli.portal import add_user
from tests.support.a11y import check_page
from tests.support.browser import (
    PLATFORM, Login, chrome, click_and_wait, csrf_of, http_sign_in, screenshot, sign_in, start_portal_platform,
)
from tests.support.polling import eventually

pytestmark = pytest.mark.infra

CODES = ["PORTALA1", "PORTALA2", "PORTALA3", "PORTALB1"]  # issued by demo-partner; the last is the browser's


@pytest.fixture(scope="module")
def portal_platform(infra, api_keys, tmp_path_factory):
    with start_portal_platform(infra, api_keys, tmp_path_factory.mktemp("portal"),
                               services=PLATFORM + ("prepaid_credit", "disputes")) as found:
        _seed(found, api_keys)
        yield found


def _seed(platform, keys) -> None:
    """A prepaid child account under each partner, a customer of the other partner, vouchers of
    demo-partner, and an account administrator of demo-prepaid (who must see that account only)."""
    urls = {name: proc.url for name, proc in platform.services.items()}
    auth = {"Authorization": f"Bearer {keys.operator}"}
    with httpx.Client(headers=auth, timeout=30) as api:
        for parent in ("demo-partner", "other-partner"):
            child = parent.replace("partner", "prepaid")
            r = api.post(urls["provisioning"] + "/v1/accounts", json={
                "account_id": child, "parent_account_id": parent, "mode": "prepaid", "currency": "USD",
                "time_zone": "Europe/London"})
            assert r.status_code == 201, r.text
        r = api.post(urls["provisioning"] + "/v1/customers", json={"account_id": "other-partner",
                                                                   "customer_id": "other-acme"})
        assert r.status_code == 201, r.text  # another partner's customer, for the isolation checks
        r = api.post(urls["prepaid_credit"] + "/v1/vouchers", json={
            "codes": CODES, "credits": "25.00", "lifetime_days": 60, "issuer": "demo-partner"})
        assert r.status_code == 201, r.text

        async def known():  # prepaid_credit learns the accounts from provisioning.events
            return all(api.get(f"{urls['prepaid_credit']}/v1/accounts/{a}/credit").status_code == 200
                       for a in ("demo-prepaid", "other-prepaid"))
        asyncio.run(eventually(known, timeout=60, what="prepaid_credit knowing the prepaid accounts"))
        invoices = api.get(f"{urls['invoicing']}/v1/accounts/demo-partner/invoices").json()
        numbers = [i["invoice_number"] for i in invoices]

        async def disputable():  # disputes learns the invoices from invoicing.events
            return all(api.get(f"{urls['disputes']}/v1/invoices/{n}/disputes").status_code == 200 for n in numbers)
        asyncio.run(eventually(disputable, timeout=60, what="disputes knowing the demo's invoices"))
    password = "correct horse demo-prepaid"
    asyncio.run(add_user("demo-prepaid", "admin@demo.example", "administrator", password, keys.path,
                         platform.settings()))
    platform.prepaid_admin = Login("admin@demo.example", password, "demo-prepaid")


@contextlib.contextmanager
def _client(platform, login: Login):
    with httpx.Client(base_url=platform.url, timeout=60) as http:
        assert http_sign_in(http, login).status_code == 303
        yield http


@pytest.fixture(scope="module")
def demo(portal_platform):
    with _client(portal_platform, portal_platform.demo) as http:
        yield http


@pytest.fixture(scope="module")
def operator(portal_platform, api_keys):
    """The platform's APIs with the operator's key (to check what the forms changed)."""
    urls = {name: proc.url for name, proc in portal_platform.services.items()}
    with httpx.Client(headers={"Authorization": f"Bearer {api_keys.operator}"}, timeout=30) as http:
        http.urls = urls
        yield http


def _send(http: httpx.Client, page: str, action: str, data: dict) -> httpx.Response:
    """Send a form the way a browser does: the page first (its CSRF token), then the post."""
    shown = http.get(page)
    assert shown.status_code == 200, shown.text
    return http.post(action, data={**data, "csrf_token": csrf_of(shown.text)})


def _followed(http: httpx.Client, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return http.get(answer.headers["location"]).text


def _credit(operator, account: str) -> dict:
    return operator.get(f"{operator.urls['prepaid_credit']}/v1/accounts/{account}/credit").json()


# ------------------------------------------------------------------ credit history
def test_a_voucher_redeemed_shows_in_the_balance_history_and_estimate(demo, operator):
    page = demo.get("/credit/demo-prepaid")
    assert page.status_code == 200 and "No credit entries yet" in page.text
    shown = _followed(demo, _send(demo, "/credit/demo-prepaid", "/credit/demo-prepaid/voucher", {"code": "PORTALA1"}))
    assert "Voucher PORTALA1 redeemed: 25.00 credits" in shown and 'role="status"' in shown
    assert re.search(r'id="balance">25\.00 USD<', shown)
    assert re.search(r'id="lifetime">\d{4}-\d{2}-\d{2}<', shown)  # no consumption yet: the lot's expiry day
    assert "<th scope=\"row\">Voucher redeemed</th>" in shown and "PORTALA1" in shown
    assert "redeemed" not in demo.get("/credit/demo-prepaid").text.split('id="balance"')[0]  # the flash shows once
    assert _credit(operator, "demo-prepaid")["balance"] == "25.00"
    csv = demo.get("/credit/demo-prepaid/history.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("sequence,at,kind,amount,balance") and ",redeemed,25.00," in csv.text


@pytest.mark.parametrize("code, status, message", [
    ("PORTALA1", 409, "That voucher was already redeemed"),
    ("NOSUCH99", 422, "No voucher has that code"),
    ("no way!", 422, "That is not a voucher code"),
])
def test_voucher_refusals_are_shown_on_the_form_and_change_nothing(demo, operator, code, status, message):
    before = _credit(operator, "demo-prepaid")
    answer = _send(demo, "/credit/demo-prepaid", "/credit/demo-prepaid/voucher", {"code": code})
    assert answer.status_code == status and message in answer.text and 'id="voucher-error"' in answer.text
    assert f'value="{code}"' in answer.text  # what was typed stays in the field
    assert _credit(operator, "demo-prepaid")["history"] == before["history"]


def test_a_subscription_account_cannot_redeem(demo):
    answer = _send(demo, "/credit/demo-partner", "/credit/demo-partner/voucher", {"code": "PORTALA2"})
    assert answer.status_code == 422 and "is not in prepaid mode" in answer.text
    assert "billed by invoice" in answer.text


def test_the_low_balance_threshold_is_set_through_provisioning(demo, operator):
    shown = _followed(demo, _send(demo, "/credit/demo-prepaid", "/credit/demo-prepaid/threshold",
                                  {"low_balance_threshold": "12.50"}))
    assert "Low-balance threshold set to 12.50." in shown and 'id="threshold">12.50 USD<' in shown
    account = operator.get(f"{operator.urls['provisioning']}/v1/accounts/demo-prepaid").json()
    assert account["low_balance_threshold"] == "12.50"
    refused = _send(demo, "/credit/demo-prepaid", "/credit/demo-prepaid/threshold", {"low_balance_threshold": "lots"})
    assert refused.status_code == 422 and 'id="threshold-error"' in refused.text and "(invalid_request)" in refused.text


def test_a_form_without_the_csrf_token_is_refused(demo, operator):
    before = _credit(operator, "demo-prepaid")
    assert demo.post("/credit/demo-prepaid/voucher", data={"code": "PORTALA2"}).status_code == 403
    assert _credit(operator, "demo-prepaid")["balance"] == before["balance"]


# ------------------------------------------------------------------ the Account Portal
def test_provision_a_customer_add_and_remove_a_feature(demo, operator):
    listing = demo.get("/customers")
    assert listing.status_code == 200 and "demo-acme" in listing.text and "other-" not in listing.text
    answer = _send(demo, "/customers/new?account=demo-partner", "/customers/new",
                   {"account": "demo-partner", "customer_id": "demo-initech", "brand_id": "demo-brand"})
    assert answer.headers["location"] == "/customers/demo-initech"
    shown = _followed(demo, answer)
    assert "Customer demo-initech provisioned." in shown and 'id="brand">demo-brand<' in shown
    added = _send(demo, "/customers/demo-initech", "/customers/demo-initech/features",
                  {"part_number": "demo-XDM00001", "quantity": "4", "subscription_id": "demo-initech-ins"})
    shown = _followed(demo, added)
    assert "Feature demo-XDM00001 × 4 added (demo-initech-ins)." in shown
    subs = operator.get(f"{operator.urls['provisioning']}/v1/accounts/demo-partner/subscriptions",
                        params={"customer_id": "demo-initech"}).json()
    assert [(s["subscription_id"], s["quantity"]) for s in subs] == [("demo-initech-ins", 4)]
    removed = _send(demo, "/customers/demo-initech", "/subscriptions/demo-initech-ins/removal", {})
    assert removed.headers["location"] == "/customers/demo-initech"
    assert "Subscription demo-initech-ins: removed." in _followed(demo, removed)
    state = operator.get(f"{operator.urls['provisioning']}/v1/subscriptions/demo-initech-ins").json()["billing_state"]
    assert state["state"] == "ended"


@pytest.mark.parametrize("action, data, status, message, where", [
    ("/customers/demo-acme/features",
     {"part_number": "demo-XDM00001", "quantity": "1", "subscription_id": "demo-acme-insights"},
     409, "That subscription id is taken", "feature-error"),
    ("/customers/demo-acme/features", {"part_number": "demo-XDM00001", "quantity": "0"}, 422, "(invalid_request)",
     "feature-error"),
    ("/customers/demo-acme/features", {"part_number": "NO-SUCH-PART", "quantity": "1"}, 422,
     "not in the catalogue", "feature-error"),
    ("/customers/demo-acme/placement", {"brand_id": "no-such-brand"}, 422, "does not exist on this account",
     "placement-error"),
])
def test_onboarding_refusals_are_shown_next_to_their_form(demo, operator, action, data, status, message, where):
    before = operator.get(f"{operator.urls['provisioning']}/v1/accounts/demo-partner/subscriptions").json()
    answer = _send(demo, "/customers/demo-acme", action, data)
    assert answer.status_code == status and message in answer.text and f'id="{where}"' in answer.text
    assert operator.get(f"{operator.urls['provisioning']}/v1/accounts/demo-partner/subscriptions").json() == before


def test_a_brand_with_customers_cannot_be_terminated_and_a_customer_is_removed(demo):
    answer = _send(demo, "/customers", "/subscriptions/demo-brand/termination", {})
    assert answer.status_code == 409 and "Customers are still placed on it" in answer.text
    created = _send(demo, "/customers/new?account=demo-partner", "/customers/new",
                    {"account": "demo-partner", "customer_id": "demo-gone"})
    assert created.status_code == 303
    assert "Customer demo-gone removed." in _followed(
        demo, _send(demo, "/customers/demo-gone", "/customers/demo-gone/removal", {}))
    again = _send(demo, "/customers/new?account=demo-partner", "/customers/new",
                  {"account": "demo-partner", "customer_id": "demo-acme"})
    assert again.status_code == 409 and "That customer id is taken" in again.text


# ------------------------------------------------------------------ disputes
def _invoice_number(operator, account: str = "demo-partner") -> str:
    invoices = operator.get(f"{operator.urls['invoicing']}/v1/accounts/{account}/invoices").json()
    return sorted(i["invoice_number"] for i in invoices)[-1]


def test_open_a_dispute_on_lines_then_follow_it_to_its_credit_note(demo, operator):
    number = _invoice_number(operator)
    form = demo.get(f"/disputes/new?invoice={number}")
    assert form.status_code == 200 and 'name="lines" value="1"' in form.text
    dispute_id = re.search(r'name="dispute_id" value="([^"]+)"', form.text).group(1)
    data = {"invoice": number, "dispute_id": dispute_id, "lines": ["1"], "amount": "", "reason": "wrong quantity",
            "csrf_token": csrf_of(form.text)}

    async def opened():  # disputes learns invoices from invoicing.events
        r = demo.post("/disputes/new", data=data)
        return r if r.status_code == 303 else None
    answer = asyncio.run(eventually(opened, timeout=60, what="the dispute opened"))
    assert answer.headers["location"] == f"/disputes/{dispute_id}"
    shown = demo.get(answer.headers["location"]).text
    assert f"Dispute {dispute_id} opened for" in shown and "due by" in shown and ">Open<" in shown
    again = demo.post("/disputes/new", data={**data, "csrf_token": csrf_of(shown)})  # sent twice: one dispute
    assert again.status_code == 303
    listing = demo.get("/disputes").text
    assert listing.count(f'href="/disputes/{dispute_id}"') == 1
    resolved = operator.post(f"{operator.urls['disputes']}/v1/disputes/{dispute_id}/resolution",
                             json={"outcome": "upheld"})
    assert resolved.status_code == 200, resolved.text

    async def credited():
        page = demo.get(f"/disputes/{dispute_id}").text
        return page if "Credit note" in page else None
    page = asyncio.run(eventually(credited, timeout=60, what="the credit note on the dispute's page"))
    assert "upheld" in page and "-CN-" in page


@pytest.mark.parametrize("data, message", [
    ({"lines": [], "amount": ""}, "Tick the disputed lines or enter the amount"),
    ({"lines": ["999"], "amount": ""}, "Choose lines of this invoice"),
    ({"lines": ["1"], "amount": "999999999.00"}, "more than the invoice still owes"),
    ({"lines": ["1"], "amount": "1.001"}, "(invalid_"),
])
def test_dispute_refusals_are_shown_on_the_form(demo, operator, data, message):
    number = _invoice_number(operator)
    form = demo.get(f"/disputes/new?invoice={number}").text
    dispute_id = re.search(r'name="dispute_id" value="([^"]+)"', form).group(1)
    answer = demo.post("/disputes/new", data={"invoice": number, "dispute_id": dispute_id, "reason": "",
                                              "csrf_token": csrf_of(form), **data})
    assert answer.status_code == 422 and message in answer.text and 'id="form-error"' in answer.text
    assert operator.get(f"{operator.urls['disputes']}/v1/disputes/{dispute_id}").status_code == 404


# ------------------------------------------------------------------ isolation
def test_another_partners_ids_answer_404_and_change_nothing(demo, operator):
    other_invoice = _invoice_number(operator, "other-partner")
    for path in ("/credit/other-prepaid", "/credit/other-prepaid/history.csv", "/customers/other-acme", "/customers?account=other-partner",
                 "/customers/new?account=other-partner", f"/disputes/new?invoice={other_invoice}",
                 "/disputes/no-such-dispute"):
        assert demo.get(path).status_code == 404, path
    page = demo.get("/credit/demo-prepaid").text
    token = csrf_of(page)
    for action, data in (("/credit/other-prepaid/voucher", {"code": "PORTALA2"}),
                         ("/customers/other-acme/features", {"part_number": "demo-XDM00001", "quantity": "1"}),
                         ("/subscriptions/other-brand/termination", {}),
                         ("/customers/other-acme/removal", {})):
        assert demo.post(action, data={**data, "csrf_token": token}).status_code == 404, action
    assert _credit(operator, "other-prepaid")["history"] == []
    customer = operator.get(f"{operator.urls['provisioning']}/v1/customers/other-acme").json()
    assert customer["billing_state"] == {"state": "active"}


def test_an_account_administrator_sees_its_account_only(portal_platform):
    with _client(portal_platform, portal_platform.prepaid_admin) as admin:
        assert admin.get("/credit", follow_redirects=False).headers["location"] == "/credit/demo-prepaid"
        assert admin.get("/credit/demo-prepaid").status_code == 200
        listing = admin.get("/customers").text
        assert "demo-prepaid" in listing and "demo-acme" not in listing
        for path in ("/credit/demo-partner", "/customers/demo-acme", "/customers?account=demo-partner"):
            assert admin.get(path).status_code == 404, path


def test_every_account_page_passes_the_accessibility_checks(demo, operator):
    dispute = operator.get(f"{operator.urls['disputes']}/v1/accounts/demo-partner/disputes").json()
    pages = ["/credit", "/credit/demo-prepaid", "/credit/demo-partner", "/customers",
             "/customers/new?account=demo-partner", "/customers/demo-acme", "/disputes", f"/disputes/new?invoice={_invoice_number(operator)}"]
    pages += [f"/disputes/{d['dispute_id']}" for d in dispute[:1]]
    for path in pages:
        page = demo.get(path, follow_redirects=True)
        assert page.status_code == 200, path
        check_page(page.text)


# ------------------------------------------------------------------ in a browser
def _submit(driver, selector: str) -> str:
    """Click a form's button, wait for the page it leads to (PRG) and read its flash message."""
    from selenium.webdriver.common.by import By

    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, selector))
    return driver.find_element(By.CSS_SELECTOR, ".flash").text


def test_in_a_browser_redeem_a_voucher_provision_a_feature_open_a_dispute(portal_platform, operator):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = chrome()
    try:
        sign_in(driver, portal_platform.url, portal_platform.demo)
        driver.get(portal_platform.url + "/credit/demo-prepaid")
        driver.find_element(By.ID, "code").send_keys("PORTALB1")
        assert "Voucher PORTALB1 redeemed" in _submit(driver, "form[action$='/voucher'] button")
        screenshot(driver, "credit")

        driver.get(portal_platform.url + "/customers/demo-globex")
        Select(driver.find_element(By.ID, "part_number")).select_by_value("demo-XDM00020")
        quantity = driver.find_element(By.ID, "quantity")
        quantity.clear()
        quantity.send_keys("2")
        assert "Feature demo-XDM00020 × 2 added" in _submit(driver, "form[action$='/features'] button")
        assert "demo-XDM00020" in driver.find_element(By.ID, "features").text
        screenshot(driver, "customer")
        driver.get(portal_platform.url + "/customers")
        screenshot(driver, "customers")

        driver.get(portal_platform.url + "/disputes")
        click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form[action='/disputes/new'] button"))
        driver.find_element(By.ID, "line-2").click()
        driver.find_element(By.ID, "reason").send_keys("not ordered")
        screenshot(driver, "dispute-form")
        assert "opened for" in _submit(driver, "form[action='/disputes/new'] button[type=submit]")
        assert driver.find_element(By.ID, "due").text
        screenshot(driver, "dispute")
        driver.get(portal_platform.url + "/disputes")
        screenshot(driver, "disputes")
    finally:
        driver.quit()
