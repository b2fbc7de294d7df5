"""Rating and charging rules: flat price per category, Decimal money, ids derived from usage."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing.domain import (
    NoRateError,
    balance_changed,
    charge_for,
    charge_id_for,
    rate,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2

DEFAULT_RATE_CARD = {
    UsageCategory.CALLS_INBOUND: Decimal("0.0085"),
    UsageCategory.CALLS_OUTBOUND: Decimal("0.014"),
    UsageCategory.SMS_INBOUND: Decimal("0.0079"),
    UsageCategory.SMS_OUTBOUND: Decimal("0.0079"),
    UsageCategory.PHONE_NUMBERS: Decimal("0.0333"),
}


def recorded(quantity: str = "12.5", category: str = "calls-outbound") -> UsageRecorded:
    return UsageRecorded(
        event_id=f"usage:{SID}:call-42",
        occurred_at=NOW,
        account_sid=SID,
        usage_event_id="call-42",
        category=UsageCategory(category),
        quantity=Decimal(quantity),
        usage_occurred_at=datetime(2026, 11, 21, 11, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("category", "quantity", "expected"),
    [
        (UsageCategory.CALLS_OUTBOUND, "12.5", "0.175"),
        (UsageCategory.CALLS_INBOUND, "1", "0.0085"),
        (UsageCategory.SMS_OUTBOUND, "3", "0.0237"),
        (UsageCategory.SMS_INBOUND, "0", "0"),
        (UsageCategory.PHONE_NUMBERS, "30", "0.999"),
        (UsageCategory.CALLS_OUTBOUND, "1000000000", "14000000"),
    ],
)
def test_given_the_default_rate_card_when_rating_then_amount_is_quantity_times_unit_price(
    category: UsageCategory, quantity: str, expected: str
) -> None:
    amount = rate(category, Decimal(quantity), DEFAULT_RATE_CARD)
    assert isinstance(amount, Decimal)
    assert amount == Decimal(expected)


def test_given_sub_cent_charges_then_they_keep_full_precision_and_add_up_exactly() -> None:
    one_minute = rate(UsageCategory.CALLS_INBOUND, Decimal(1), DEFAULT_RATE_CARD)
    assert one_minute == Decimal("0.0085")  # not rounded to a cent per charge
    assert sum([one_minute] * 1000, Decimal(0)) == Decimal("8.5")


def test_given_a_product_finer_than_a_micro_dollar_then_it_rounds_half_up_to_six_places() -> None:
    amount = rate(UsageCategory.CALLS_INBOUND, Decimal("0.000001"), DEFAULT_RATE_CARD)
    assert amount == Decimal("0.000000")  # 0.0000000085
    half = rate(UsageCategory.CALLS_OUTBOUND, Decimal("0.000125"), DEFAULT_RATE_CARD)
    assert half == Decimal("0.000002")  # 0.00000175 rounds up


def test_given_a_category_missing_from_the_rate_card_then_rating_names_it() -> None:
    with pytest.raises(NoRateError, match="phone-numbers"):
        rate(UsageCategory.PHONE_NUMBERS, Decimal(1), {UsageCategory.SMS_INBOUND: Decimal(1)})


def test_given_recorded_usage_when_charged_then_the_charge_draws_the_balance_down() -> None:
    charge = charge_for(recorded("12.5"), DEFAULT_RATE_CARD, NOW)
    assert charge.amount == Decimal("0.175")
    assert charge.unit_price == Decimal("0.014")
    assert charge.balance_delta == Decimal("-0.175")
    assert charge.charged_at == NOW
    assert charge.account_sid == SID


def test_given_the_same_usage_charged_twice_then_both_charges_have_the_same_id() -> None:
    first = charge_for(recorded(), DEFAULT_RATE_CARD, NOW)
    again = charge_for(recorded(), DEFAULT_RATE_CARD, datetime(2027, 1, 1, tzinfo=UTC))
    assert first.charge_id == again.charge_id == charge_id_for(SID, "call-42")
    assert first.charge_id.startswith("CH") and len(first.charge_id) == 34


def test_given_the_same_usage_id_on_two_accounts_then_their_charge_ids_differ() -> None:
    other = "AC" + "f" * 32
    assert charge_id_for(SID, "call-42") != charge_id_for(other, "call-42")


def test_given_a_charge_then_its_balance_event_id_is_derived_from_the_charge() -> None:
    charge = charge_for(recorded(), DEFAULT_RATE_CARD, NOW)
    event = balance_changed(charge, Decimal("-0.175"))
    assert event.event_id == f"charge:{charge.charge_id}"
    assert (event.amount, event.balance, event.currency) == (
        Decimal("0.175"),
        Decimal("-0.175"),
        "USD",
    )
    assert event.usage_event_id == "call-42"
    assert event.occurred_at == NOW
