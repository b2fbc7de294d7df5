"""Rating as CONTRACTS.md §2 writes it: graduated tiers per month, exact charges, one rounding.

The expected values come from an oracle written from the contract's table, not from the code.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tally_contracts.accounts import InvoicingTerms
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing import domain, pricing

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2
PERIOD = "2026-11@America/Chicago"
DAY = date(2026, 11, 21)


def oracle(category: str, quantity: Decimal) -> Decimal:
    """The §2 table, literally: what a customer checking the invoice would compute."""
    flat = {
        "calls-inbound": Decimal("0.0085"),
        "sms-inbound": Decimal("0.0079"),
        "sms-outbound": Decimal("0.0079"),
        "phone-numbers": Decimal("0.0400"),
    }
    if category in flat:
        return quantity * flat[category]
    first = min(quantity, Decimal(10000))
    return first * Decimal("0.0140") + (quantity - first) * Decimal("0.0130")


def recorded(n: int, quantity: Decimal, category: UsageCategory) -> UsageRecorded:
    return UsageRecorded(
        event_id=f"usage:{SID}:u{n}",
        occurred_at=NOW,
        account_sid=SID,
        usage_event_id=f"u{n}",
        category=category,
        quantity=quantity,
        usage_occurred_at=NOW,
        local_date=DAY,
        period=PERIOD,
    )


@pytest.mark.parametrize(
    ("category", "quantity", "expected"),
    [
        ("calls-outbound", "12.5", "0.175"),
        ("calls-inbound", "1", "0.0085"),
        ("sms-outbound", "3", "0.0237"),
        ("sms-inbound", "0", "0"),
        ("phone-numbers", "30", "1.20"),  # 0.0400 a number-day
        ("calls-outbound", "10000", "140"),  # all of the first tier
        ("calls-outbound", "10001.5", "140.0195"),  # 1.5 minutes at 0.0130
        ("calls-outbound", "0.000001", "0.000000014"),  # exact, never rounded
    ],
)
def test_given_the_default_card_when_pricing_a_months_quantity_then_it_is_the_public_price(
    category: str, quantity: str, expected: str
) -> None:
    assert pricing.price(UsageCategory(category), Decimal(quantity)) == Decimal(expected)


def test_given_negotiated_rates_then_they_replace_the_default_only_where_named() -> None:
    terms = InvoicingTerms(
        request_id="IR1",
        rates={"calls-outbound": Decimal("0.0100")},
        net_terms_days=30,
        credit_limit=Decimal(5000),
    )
    card = pricing.card_for(terms)
    # flat: no tier above 10,000 minutes for a negotiated price
    assert pricing.price(UsageCategory.CALLS_OUTBOUND, Decimal(20000), card) == Decimal(200)
    assert pricing.price(UsageCategory.PHONE_NUMBERS, Decimal(10), card) == Decimal("0.4")
    assert pricing.card_for(None) is pricing.DEFAULT_RATE_CARD


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.12"), ("0.135", "0.14"), ("0.004999999999", "0.00"), ("-0.175", "-0.18")],
)
def test_given_an_exact_amount_then_money_rounds_half_even_to_the_cent(
    amount: str, expected: str
) -> None:
    assert pricing.round_money(Decimal(amount)) == Decimal(expected)


quantities = st.decimals(min_value=0, max_value=4000, places=6, allow_nan=False)
events = st.lists(
    st.tuples(st.sampled_from(list(UsageCategory)), quantities), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(events=events, order=st.randoms(use_true_random=False), repeats=st.data())
def test_given_any_usage_in_any_order_with_duplicates_then_charges_add_up_to_the_months_price(
    events: list[tuple[UsageCategory, Decimal]], order: object, repeats: st.DataObject
) -> None:
    # given a month's usage, delivered in some order, some events more than once
    usages = [recorded(n, q, c) for n, (c, q) in enumerate(events)]
    delivered = usages + repeats.draw(st.lists(st.sampled_from(usages), max_size=10))
    order.shuffle(delivered)  # type: ignore[attr-defined]
    # when each event is rated once (a charge id already rated is skipped), batch by batch
    seen: set[str] = set()
    running: dict[domain.PeriodCategory, Decimal] = {}
    charges: list[domain.Charge] = []
    for start in range(0, len(delivered), 7):
        batch = []
        for usage in delivered[start : start + 7]:
            charge_id = domain.charge_id_for(usage.account_sid, usage.usage_event_id)
            if charge_id not in seen:
                seen.add(charge_id)
                batch.append((usage, PERIOD, DAY))
        made, running = domain.rate_batch(batch, running, {}, {}, {}, NOW)
        charges += made
    # then each category's charges add up exactly to the oracle's price of its total
    for category in UsageCategory:
        total = sum((q for c, q in events if c is category), Decimal(0))
        charged = sum((ch.amount for ch in charges if ch.category is category), Decimal(0))
        assert charged == oracle(category.value, total)
    assert len(charges) == len(usages)


def test_given_usage_across_the_tier_boundary_then_the_charge_splits_it() -> None:
    # given 9,990 minutes already this month, when 20 more are rated
    running = {(SID, PERIOD, UsageCategory.CALLS_OUTBOUND): Decimal(9990)}
    usage = recorded(1, Decimal(20), UsageCategory.CALLS_OUTBOUND)
    [charge], totals = domain.rate_batch([(usage, PERIOD, DAY)], running, {}, {}, {}, NOW)
    # then 10 minutes at 0.0140 and 10 at 0.0130
    assert charge.amount == Decimal("0.27")
    assert totals[(SID, PERIOD, UsageCategory.CALLS_OUTBOUND)] == Decimal(10010)
    assert (charge.period, charge.local_date, charge.late, charge.prepaid) == (
        PERIOD,
        DAY,
        False,
        True,
    )


def test_given_the_same_usage_twice_then_both_charges_have_the_same_id() -> None:
    assert domain.charge_id_for(SID, "call-42") == domain.charge_id_for(SID, "call-42")
    assert domain.charge_id_for(SID, "call-42") != domain.charge_id_for("AC" + "f" * 32, "call-42")
