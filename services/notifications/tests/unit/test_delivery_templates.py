"""The e-mails' wording: amounts with their currency, local dates, no invoice talk for prepaid."""

import pytest
from tally_notifications.delivery.templates import TemplateFailed, kinds, render_email

PREPAID_ONLY = (
    "recharge_reminder",
    "card_charged",
    "card_declined",
    "suspension_warning",
    "account_suspended",
)
SID = "AC" + "1" * 32
EVERYTHING = {
    "account_sid": SID,
    "currency": "USD",
    "balance": "4.20",
    "threshold": "5.00",
    "amount": "20.00",
    "total": "12.34",
    "amount_due": "12.34",
    "exposure": "8100.00",
    "credit_limit": "10000.00",
    "as_of": "2026-11-28",
    "due_date": "2026-12-28",
    "month": "2026-10",
    "billing_mode": "pay_as_you_go",
    "no_balance_due": True,
    "time_zone": "America/Chicago",
}


def test_every_kind_of_the_contract_has_a_template() -> None:
    assert set(kinds()) == {
        *PREPAID_ONLY,
        "account_reactivated",
        "invoice_issued",
        "invoice_overdue",
        "upgrade_completed",
        "credit_check_information_requested",
        "credit_exposure",
    }


@pytest.mark.parametrize("kind", PREPAID_ONLY)
def test_given_a_prepaid_kind_then_its_email_never_speaks_of_invoices(kind: str) -> None:
    email = render_email(kind, EVERYTHING)

    assert "invoice" not in (email.subject + email.text).lower()
    assert SID in email.text


def test_given_a_pay_as_you_go_statement_then_nothing_is_said_to_be_due() -> None:
    email = render_email("invoice_issued", EVERYTHING | {"due_date": None})

    assert "12.34 USD" in email.text and "nothing is due" in email.text
    assert "invoice" not in (email.subject + email.text).lower()


def test_given_an_invoiced_account_then_the_amount_due_and_due_date_are_shown() -> None:
    email = render_email(
        "invoice_issued", EVERYTHING | {"billing_mode": "invoiced", "no_balance_due": False}
    )

    assert "Amount due: 12.34 USD, due on 2026-12-28" in email.text


def test_given_a_low_balance_then_amount_threshold_and_local_date_are_shown() -> None:
    email = render_email("recharge_reminder", EVERYTHING)

    assert "4.20 USD as of 2026-11-28" in email.text
    assert "5.00 USD" in email.text


def test_given_an_instant_then_it_is_dated_in_the_accounts_zone() -> None:
    # 03:00 UTC on the 29th is still the 28th in Chicago
    email = render_email("recharge_reminder", EVERYTHING | {"as_of": "2026-11-29T03:00:00+00:00"})

    assert "as of 2026-11-28" in email.text


def test_given_a_subject_then_it_replaces_the_templates() -> None:
    assert render_email("recharge_reminder", EVERYTHING, "Low: 4.20 USD").subject == "Low: 4.20 USD"


@pytest.mark.parametrize(
    ("kind", "variables", "complaint"),
    [
        ("recharge_reminder", {"account_sid": SID, "currency": "USD"}, "balance"),
        ("recharge_reminder", {"account_sid": SID, "balance": "4.20"}, "currency"),
        ("recharge_reminder", EVERYTHING | {"balance": 4.2}, "decimal string"),
        ("no_such_kind", EVERYTHING, "no e-mail template"),
    ],
)
def test_given_what_a_template_cannot_word_then_rendering_fails_saying_why(
    kind: str, variables: dict[str, object], complaint: str
) -> None:
    with pytest.raises(TemplateFailed, match=complaint):
        render_email(kind, variables)
