"""The billing page's pure parts: forms read as the API's bodies, the daily chart's bars."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError
from tally_gateway.web import forms
from tally_gateway.web.chart import daily_chart
from tally_gateway.web.reads import month_days, months_before

ADDRESS = {
    "address_line1": "1 Main Street",
    "address_city": "Chicago",
    "address_postal_code": "60601",
    "address_country": "US",
}


def test_given_an_address_entered_by_hand_and_a_top_up_then_the_upgrade_is_pay_as_you_go() -> None:
    body = forms.upgrade(
        {
            "address_id": forms.MANUAL_ADDRESS,
            **ADDRESS,
            "method": "pay_as_you_go",
            "card_token": "tok_visa",
            "top_up_amount": "20.00",
        }
    )

    assert body.model_dump(mode="json", exclude_unset=True) == {
        "method": "pay_as_you_go",
        "address": {
            "line1": "1 Main Street",
            "city": "Chicago",
            "postal_code": "60601",
            "country": "US",
        },
        "top_up": {"amount": "20.00", "card_token": "tok_visa"},
    }


def test_given_a_chosen_address_then_pay_by_invoice_names_it_and_carries_no_card() -> None:
    body = forms.upgrade(
        {"address_id": "AD1", "method": "pay_by_invoice", "card_token": "tok_visa", **ADDRESS}
    )

    assert body.model_dump(mode="json", exclude_unset=True) == {
        "method": "pay_by_invoice",
        "address_id": "AD1",
    }


def test_given_a_top_up_form_with_a_bad_amount_then_the_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        forms.top_up({"amount": "ten", "card_token": "tok_visa"})

    assert forms.error_messages(refused.value)[0].startswith("amount:")


def test_given_preferences_with_empty_fields_then_they_clear_and_recipients_split() -> None:
    body = forms.billing_preferences(
        {"po_number": " ", "invoice_recipients": "a@example.com, b@example.com\nc@example.com"}
    )

    assert body.mailing_address is None
    assert body.po_number is None
    assert body.invoice_recipients == ["a@example.com", "b@example.com", "c@example.com"]


def test_given_auto_recharge_unchecked_then_it_is_turned_off() -> None:
    assert forms.auto_recharge({"threshold": "", "amount": ""}).enabled is False


def test_given_daily_quantities_then_bars_scale_to_the_busiest_day_and_sum_up() -> None:
    days = [date(2026, 2, day) for day in range(1, 5)]

    chart = daily_chart(
        "calls-outbound",
        "minutes",
        days,
        {date(2026, 2, 2): Decimal("10"), date(2026, 2, 3): Decimal("2.5")},
    )

    assert [bar.quantity for bar in chart.bars] == [0, 10, Decimal("2.5"), 0]
    assert chart.total == Decimal("12.5")
    assert chart.peak == Decimal("10")
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0 and heights[3] == 0
    assert heights[1] == pytest.approx(4 * heights[2])
    assert all(bar.y + bar.height == pytest.approx(chart.baseline) for bar in chart.bars)


def test_given_months_then_the_selector_and_the_chart_know_their_days() -> None:
    assert months_before("2026-02", 3) == ["2026-02", "2026-01", "2025-12"]
    assert len(month_days("2028-02")) == 29
    assert month_days("2026-12")[-1] == date(2026, 12, 31)
