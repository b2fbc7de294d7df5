"""The invoicing request's state machine, floor, history and age flag, as plain functions."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tally_accounts.invoicing_requests.credit_checks import merged
from tally_accounts.invoicing_requests.domain import (
    IllegalStep,
    InvoicingRequest,
    Pricing,
    SpendBelowMinimum,
    Step,
    activated,
    agreed_terms,
    approved,
    credit_check_received,
    declined,
    information_requested,
    open_request,
    priced,
)
from tally_contracts.invoicing_requests import RequestState

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PRICING = Pricing(
    rates={"sms-outbound": Decimal("0.0050")}, discount_percent=Decimal(5), net_terms_days=30
)


def new_request(spend: str = "12000.00") -> InvoicingRequest:
    return open_request(
        request_id="IR" + "0" * 32,
        account_sid="AC" + "1" * 32,
        contact_email="ap@example.com",
        committed_annual_spend=Decimal(spend),
        by="ops-key:abc",
        now=T0,
    )


def in_state(state: RequestState) -> InvoicingRequest:
    request = new_request()
    if state is RequestState.PRICING:
        return request
    request = priced(request, PRICING, by="ana", now=T0)
    if state is RequestState.CREDIT_CHECK:
        return request
    if state is RequestState.DECLINED:
        return declined(request, "thin credit file", by="bo", now=T0)
    request = approved(request, Decimal("5000.00"), by="bo", now=T0)
    if state is RequestState.APPROVED:
        return request
    return activated(request, by="cy", now=T0)


STEPS = {
    Step.PRICING: lambda r: priced(r, PRICING, by="x", now=T0),
    Step.CREDIT_CHECK: lambda r: credit_check_received(r, by="x", now=T0),
    Step.INFORMATION_REQUEST: lambda r: information_requested(r, ["DUNS?"], by="x", now=T0),
    Step.DECISION: lambda r: approved(r, Decimal(1), by="x", now=T0),
    Step.ACTIVATION: lambda r: activated(r, by="x", now=T0),
}
ALLOWED = {
    RequestState.PRICING: ["pricing"],
    RequestState.CREDIT_CHECK: ["credit_check", "information_request", "decision"],
    RequestState.APPROVED: ["activation"],
    RequestState.DECLINED: [],
    RequestState.ACTIVATED: [],
}


def test_given_less_than_12000_a_year_when_a_request_is_opened_then_it_is_refused() -> None:
    with pytest.raises(SpendBelowMinimum):
        new_request("11999.99")
    assert new_request("12000.00").state is RequestState.PRICING


@pytest.mark.parametrize("state", list(RequestState))
@pytest.mark.parametrize("step", list(STEPS))
def test_given_a_state_when_a_step_is_taken_then_only_the_allowed_ones_pass(
    state: RequestState, step: Step
) -> None:
    request = in_state(state)
    if step.value in ALLOWED[state]:
        after = STEPS[step](request)
        assert after.history[-1].step is step
    else:
        with pytest.raises(IllegalStep) as refused:
            STEPS[step](request)
        assert refused.value.allowed == ALLOWED[state]
        assert state.value in str(refused.value)


def test_given_the_whole_way_then_every_step_is_in_the_history_with_who_and_when() -> None:
    later = T0 + timedelta(days=3)
    request = priced(new_request(), PRICING, by="ana", now=T0)
    request = information_requested(request, ["statements"], by="bo", now=later)
    request = approved(request, Decimal("5000.00"), by="cy", now=later)
    request = activated(request, by="di", now=later)
    assert [(e.step.value, e.by) for e in request.history] == [
        ("created", "ops-key:abc"),
        ("pricing", "ana"),
        ("information_request", "bo"),
        ("decision", "cy"),
        ("activation", "di"),
    ]
    assert request.history[-1].at == later
    assert request.state is RequestState.ACTIVATED
    assert request.information_requests[0].items == ("statements",)


def test_given_an_approved_request_then_its_terms_are_its_pricing_and_credit_limit() -> None:
    terms = agreed_terms(in_state(RequestState.APPROVED))
    assert (terms.rates, terms.discount_percent, terms.net_terms_days, terms.credit_limit) == (
        {"sms-outbound": Decimal("0.0050")},
        Decimal(5),
        30,
        Decimal("5000.00"),
    )


def test_given_a_declined_request_then_it_has_no_terms_and_keeps_its_reason() -> None:
    request = in_state(RequestState.DECLINED)
    assert request.decision is not None and request.decision.reason == "thin credit file"
    with pytest.raises(ValueError, match="no approved terms"):
        agreed_terms(request)


@pytest.mark.parametrize(
    ("state", "age", "flagged"),
    [
        (RequestState.PRICING, timedelta(weeks=5), False),
        (RequestState.PRICING, timedelta(weeks=5, seconds=1), True),
        (RequestState.CREDIT_CHECK, timedelta(weeks=6), True),
        (RequestState.APPROVED, timedelta(weeks=6), True),
        (RequestState.DECLINED, timedelta(weeks=6), False),
        (RequestState.ACTIVATED, timedelta(weeks=6), False),
    ],
)
def test_given_an_age_and_a_state_then_open_too_long_flags_only_open_requests_over_5_weeks(
    state: RequestState, age: timedelta, flagged: bool
) -> None:
    assert in_state(state).is_open_too_long(T0 + age) is flagged


def test_given_stored_credit_check_data_when_more_is_posted_then_it_adds_to_it() -> None:
    stored = {
        "legal_company_name": "Acme LLC",
        "accounting_contact": {"full_name": "Ann Pay"},
        "financial_statements": ["doc-1"],
    }
    posted = {
        "legal_company_name": "Acme Inc.",
        "accounting_contact": {"email": "ann@acme.test"},
        "financial_statements": ["doc-1", "doc-2"],
        "duns_number": "123456789",
    }
    assert merged(stored, posted) == {
        "legal_company_name": "Acme Inc.",
        "accounting_contact": {"full_name": "Ann Pay", "email": "ann@acme.test"},
        "financial_statements": ["doc-1", "doc-2"],
        "duns_number": "123456789",
    }
