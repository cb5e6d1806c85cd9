"""Plain sentences for the refusals the account pages' forms can meet (the backends' reason codes)."""

from __future__ import annotations

from dataclasses import dataclass

# What a person reads next to the form; the reason code is shown with it (support asks for it).
# Codes not listed here fall back to the backend's own `detail` sentence.
SENTENCES: dict[str, str] = {
    # prepaid_credit: vouchers and redemptions (docs/prepaid_credit.md)
    "invalid_voucher": "That is not a voucher code: a code has 4 to 32 letters and digits.",
    "unknown_voucher": "No voucher has that code. Check it for typing mistakes.",
    "voucher_already_redeemed": "That voucher was already redeemed; a voucher can be redeemed once.",
    "not_prepaid": "This account is not in prepaid mode, so it cannot redeem vouchers.",
    # provisioning: the Onboarding API (docs/provisioning.md "Refusals")
    "unknown_account": "No such account.",
    "unknown_customer": "No such customer on this account, or the customer was removed.",
    "unknown_product": "That product is not in the catalogue (or not of the right kind).",
    "unknown_subscription": "A brand, region or subscription named here does not exist on this account.",
    "duplicate_subscription": "That subscription id is taken; choose another.",
    "duplicate_customer": "That customer id is taken; choose another.",
    "already_ended": "That was already removed or terminated (or its termination is pending).",
    "customers_provisioned": "Customers are still placed on it: move or remove them first.",
    "before_account_opened": "The date is before the account was opened.",
    "invalid_instant": "The end is before the start.",
    "forbidden_field": "You may not set that field.",
    "forbidden_role": "Your sign-in may not do this.",
    # disputes (docs/disputes.md "Reason codes")
    "unknown_invoice": "The disputes desk does not know that invoice yet. Try again in a minute.",
    "unknown_dispute": "No such dispute.",
    "duplicate_dispute": "That dispute id was used for another dispute.",
    "already_resolved": "That dispute is already resolved.",
    "invalid_amount": "The amount must be above zero, in whole cents.",
    "amount_exceeds_disputable": "The amount is more than the invoice still owes less its other open disputes.",
    "invalid_lines": "Choose each disputed line once, from the invoice's lines.",
}


@dataclass(frozen=True)
class Refusal:
    """A backend's refusal as a form shows it (macros.html `refused`): the sentence, the code and
    the HTTP status the page answers with."""

    reason: str
    detail: str
    status: int


def describe(status: int, reason: str, detail: str) -> Refusal:
    """A backend's refusal (its status, reason code and detail text) as a sentence for the form.
    A 404 of something the form named (a voucher code, a brand) is the form's error: 422."""
    if reason == "invalid_request":
        sentence = f"Check the form's values ({detail})." if detail else "Check the form's values."
    elif reason in SENTENCES:
        sentence = SENTENCES[reason]
    elif detail:
        sentence = detail[0].upper() + detail[1:] + ("" if detail.endswith(".") else ".")
    else:
        sentence = "The request was refused."
    return Refusal(reason or "refused", sentence, 422 if status == 404 else status)
