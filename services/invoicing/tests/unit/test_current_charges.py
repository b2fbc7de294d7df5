"""Current charges: a month's quantities priced as CONTRACTS.md §2's table says, to the cent."""

from decimal import Decimal

from tally_contracts.accounts import InvoicingTerms
from tally_contracts.usage import UsageCategory
from tally_invoicing.current_charges import current_charges

C = UsageCategory


def amounts(
    quantities: dict[UsageCategory, str], terms: InvoicingTerms | None = None
) -> dict[object, str]:
    charges = current_charges({c: Decimal(q) for c, q in quantities.items()}, terms)
    return {line.category: str(line.amount) for line in charges.lines} | {
        "discount": str(charges.discount),
        "total": str(charges.total),
    }


def test_given_usage_on_the_default_card_then_each_line_is_the_price_list_to_the_cent() -> None:
    # given a month with 12,000 outbound minutes (past the 10,000-minute tier), 1,234.5 inbound
    # minutes, 150 outbound messages (1.185: a half cent, rounded to even), 31 number-days
    quantities = {
        C.CALLS_OUTBOUND: "12000",
        C.CALLS_INBOUND: "1234.5",
        C.SMS_OUTBOUND: "150",
        C.PHONE_NUMBERS: "31",
    }

    # then 10,000 x 0.0140 + 2,000 x 0.0130 = 166.00; 1,234.5 x 0.0085 = 10.49325 → 10.49;
    # 150 x 0.0079 = 1.185 → 1.18 (half-even, not 1.19); 31 x 0.04 = 1.24; nothing → 0.00
    assert amounts(quantities) == {
        C.CALLS_INBOUND: "10.49",
        C.CALLS_OUTBOUND: "166.00",
        C.SMS_INBOUND: "0.00",
        C.SMS_OUTBOUND: "1.18",
        C.PHONE_NUMBERS: "1.24",
        "discount": "0.00",
        "total": "178.91",
    }


def test_given_agreed_rates_and_a_discount_then_they_replace_the_card_and_discount() -> None:
    # given terms with outbound SMS at 0.0050 and a 10 % discount
    terms = InvoicingTerms(
        request_id="IR1",
        rates={"sms-outbound": Decimal("0.0050")},
        discount_percent=Decimal(10),
        net_terms_days=30,
        credit_limit=Decimal(50000),
    )

    # when 1,001 outbound messages and 100 inbound minutes are priced
    priced = amounts({C.SMS_OUTBOUND: "1001", C.CALLS_INBOUND: "100"}, terms)

    # then SMS is 1,001 x 0.0050 = 5.005 → 5.00 (half-even), calls keep the card's 0.0085 → 0.85,
    # and the discount is -round(5.85 x 10 %) = -0.58 (0.585, half-even), leaving 5.27
    assert priced[C.SMS_OUTBOUND] == "5.00"
    assert priced[C.CALLS_INBOUND] == "0.85"
    assert priced["discount"] == "-0.58"
    assert priced["total"] == "5.27"


def test_given_no_usage_then_every_line_and_the_total_are_zero() -> None:
    assert set(amounts({}).values()) == {"0.00"}
