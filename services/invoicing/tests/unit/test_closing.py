"""The pure invoice builder against an oracle written from CONTRACTS.md §2, not from the code."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tally_contracts.accounts import BillingMode, BillingPreferences, InvoicingTerms
from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_contracts.usage import UsageCategory
from tally_invoicing import close_month, closing

# CONTRACTS.md §2, literally: (category, unit price for the first N units, N, price after).
TABLE = {
    "calls-inbound": (Decimal("0.0085"), None, None),
    "calls-outbound": (Decimal("0.0140"), Decimal(10_000), Decimal("0.0130")),
    "sms-inbound": (Decimal("0.0079"), None, None),
    "sms-outbound": (Decimal("0.0079"), None, None),
    "phone-numbers": (Decimal("0.0400"), None, None),
}
ISSUED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def oracle_line(category: str, quantity: Decimal) -> Decimal:
    first_price, limit, then = TABLE[category]
    if limit is None or quantity <= limit:
        return cents(quantity * first_price)
    assert then is not None
    return cents(limit * first_price + (quantity - limit) * then)


def account(mode: BillingMode, terms: InvoicingTerms | None = None) -> closing.AccountAtClose:
    return closing.AccountAtClose(
        account_sid="AC" + "0" * 32,
        billing_mode=mode,
        terms=terms,
        billing=BillingPreferences(po_number="PO-7", invoice_recipients=["ap@example.com"]),
        zones=[ZoneSpan(time_zone="America/Chicago", effective_from=EARLIEST)],
    )


quantities = st.decimals(min_value=0, max_value=2_000_000, places=6, allow_nan=False)
events = st.lists(st.tuples(st.sampled_from(sorted(TABLE)), quantities), max_size=30)


def month_usage(
    evts: list[tuple[str, Decimal]], prepaid: bool
) -> dict[UsageCategory, closing.MonthUsage]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for category, quantity in evts:
        totals[category] += quantity
    return {
        UsageCategory(c): closing.MonthUsage(
            UsageCategory(c), q, prepaid_amount=oracle_line(c, q) if prepaid else Decimal(0)
        )
        for c, q in totals.items()
    }


@settings(max_examples=400, deadline=None)
@given(
    evts=events,
    discount=st.decimals(min_value=0, max_value=50, places=2),
    mode=st.sampled_from(list(BillingMode)),
)
def test_given_any_usage_then_total_is_the_sum_of_lines_and_the_rating_to_the_cent(
    evts: list[tuple[str, Decimal]], discount: Decimal, mode: BillingMode
) -> None:
    # given a month of events, maybe a negotiated discount (default prices)
    terms = InvoicingTerms(
        request_id="IR1", discount_percent=discount, net_terms_days=30, credit_limit=Decimal(1)
    )
    usage = month_usage(evts, prepaid=mode is not BillingMode.INVOICED)

    # when the month is closed
    invoice = closing.build_invoice(account(mode, terms), "2026-10", usage, [], [], ISSUED)

    # then the total is the sum of its lines, and each usage line is the §2 price of the
    # category's month total, rounded once; the discount is one line of the usage lines
    if not evts:
        assert invoice is None
        return
    assert invoice is not None
    assert invoice.total == sum(line.amount for line in invoice.lines)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for category, quantity in evts:
        totals[category] += quantity
    expected_usage = {c: oracle_line(c, q) for c, q in totals.items()}
    usage_lines = {line.category: line.amount for line in invoice.lines if line.kind == "usage"}
    assert usage_lines == expected_usage
    expected_discount = cents(sum(expected_usage.values()) * discount / 100)
    discounts = [line.amount for line in invoice.lines if line.kind == "discount"]
    assert sum(discounts) == -expected_discount
    assert invoice.total == sum(expected_usage.values()) - expected_discount
    if mode is BillingMode.INVOICED:
        assert invoice.amount_due == max(invoice.total - invoice.prepaid_applied, Decimal(0))
        assert invoice.due_date == date(2026, 11, 1) + timedelta(days=30)
        assert invoice.po_number == "PO-7"
    else:
        assert invoice.amount_due == 0 and invoice.no_balance_due
        assert invoice.prepaid_applied == invoice.total  # amount_due = total - prepaid_applied
        assert invoice.po_number is None


def test_given_a_switch_mid_month_then_the_prepaid_part_is_applied_and_the_rest_due() -> None:
    # given 1,000 outbound minutes drawn from the balance before the switch and 1,000 after,
    # and 10.00 left on the balance when it was frozen
    usage = {
        UsageCategory.CALLS_OUTBOUND: closing.MonthUsage(
            UsageCategory.CALLS_OUTBOUND, Decimal(2000), prepaid_amount=Decimal("14.00")
        )
    }
    frozen = [closing.Remainder("freeze:AC:v3", Decimal("10.000000000001"))]

    # when the month closes with the account invoiced
    invoice = closing.build_invoice(
        account(BillingMode.INVOICED), "2026-10", usage, [], frozen, ISSUED
    )

    # then 28.00 of usage, a 10.00 credit, 14.00 prepaid applied, 4.00 due
    assert invoice is not None
    assert [(line.kind, line.amount) for line in invoice.lines] == [
        ("usage", Decimal("28.00")),
        ("adjustment", Decimal("-10.00")),
    ]
    assert (invoice.total, invoice.prepaid_applied, invoice.amount_due) == (
        Decimal("18.00"),
        Decimal("14.00"),
        Decimal("4.00"),
    )
    assert invoice.settled_remainders == ("freeze:AC:v3",)


def test_given_credits_above_the_total_then_nothing_is_due_and_the_rest_is_carried() -> None:
    # given an invoiced account with 1.00 of usage and a 5.00 frozen credit
    usage = {
        UsageCategory.SMS_OUTBOUND: closing.MonthUsage(UsageCategory.SMS_OUTBOUND, Decimal(100))
    }
    frozen = [closing.Remainder("freeze:AC:v2", Decimal(5))]
    invoice = closing.build_invoice(
        account(BillingMode.INVOICED), "2026-10", usage, [], frozen, ISSUED
    )
    # then 0.00 due and 4.21 carried to the next invoice
    assert invoice is not None
    assert invoice.total == Decimal("-4.21")
    assert invoice.amount_due == Decimal("0.00")
    assert invoice.carried_credit == Decimal("4.21")


def test_given_late_usage_then_one_adjustment_per_month_and_category() -> None:
    # given two late outbound-call charges of September and no usage in October
    late = [
        closing.LateCharge(
            "CH1",
            "2026-09@America/Chicago",
            UsageCategory.CALLS_OUTBOUND,
            Decimal(1),
            Decimal("0.014"),
            False,
        ),
        closing.LateCharge(
            "CH2",
            "2026-09@America/Chicago",
            UsageCategory.CALLS_OUTBOUND,
            Decimal(2),
            Decimal("0.028"),
            False,
        ),
    ]
    invoice = closing.build_invoice(account(BillingMode.INVOICED), "2026-10", {}, late, [], ISSUED)
    # then one adjustment line of 0.04 and both charges marked as adjusted by it
    assert invoice is not None
    assert [(line.kind, line.quantity, line.amount) for line in invoice.lines] == [
        ("adjustment", Decimal(3), Decimal("0.04"))
    ]
    assert invoice.adjusted_charges == ("CH1", "CH2")


def test_given_zones_on_both_sides_of_the_date_line_then_each_month_ends_at_its_midnight() -> None:
    # given October in Apia (UTC+13) and in Honolulu (UTC-10)
    apia = closing.period_of(
        [ZoneSpan(time_zone="Pacific/Apia", effective_from=EARLIEST)], "2026-10"
    )
    honolulu = closing.period_of(
        [ZoneSpan(time_zone="Pacific/Honolulu", effective_from=EARLIEST)], "2026-10"
    )
    # then each ends at its own local midnight, 23 hours apart
    assert apia.end == datetime(2026, 10, 31, 11, 0, tzinfo=UTC)
    assert honolulu.end == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    no_grace = timedelta(0)
    between = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert closing.concluded(apia, between, no_grace)
    assert not closing.concluded(honolulu, between, no_grace)


def test_given_a_zone_change_then_the_month_is_billed_in_the_zone_it_started_in() -> None:
    zones = [
        ZoneSpan(time_zone="America/Chicago", effective_from=EARLIEST),
        ZoneSpan(
            time_zone="Europe/Paris",
            effective_from=datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
            first_month="2026-11",
        ),
    ]
    assert closing.period_of(zones, "2026-10").key == "2026-10@America/Chicago"
    assert closing.period_of(zones, "2026-11").key == "2026-11@Europe/Paris"


def test_given_the_time_then_the_scheduler_closes_the_months_some_zone_has_ended() -> None:
    grace = timedelta(hours=1)
    # mid-month: nothing; just after Kiritimati's month end: that month; days later: none
    assert close_month.months_due(datetime(2026, 10, 15, tzinfo=UTC), grace) == []
    assert close_month.months_due(datetime(2026, 10, 31, 11, 0, tzinfo=UTC), grace) == ["2026-10"]
    assert close_month.months_due(datetime(2026, 11, 1, 20, 0, tzinfo=UTC), grace) == ["2026-10"]
    assert close_month.months_due(datetime(2026, 11, 5, tzinfo=UTC), grace) == []
