"""Prepaid rules: a balance's state, the cent it is shown to, top-up repeats, the trial credit."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from tally_contracts.accounts import AutoRecharge, BillingMode
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.payments import CardOutcome, DevelopmentPaymentProvider
from tally_invoicing.prepaid import (
    BalanceState,
    InvoicedAccountError,
    TopUp,
    TopUpConflictError,
    TopUpRequest,
    balance_state,
    ensure_prepaid,
    newest_thresholds,
    repeat_of,
    to_cent,
    top_up_changed,
    trial_credits_due,
)
from tally_testkit import account_state

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2
OTHER = "AC" + "f" * 32
TEN = Decimal("10.00")


@pytest.mark.parametrize(
    ("balance", "threshold", "expected"),
    [
        ("15.00", "10.00", BalanceState.OK),
        ("10.000001", "10.00", BalanceState.OK),
        ("10.00", "10.00", BalanceState.LOW),  # at the threshold is low
        ("0.01", "10.00", BalanceState.LOW),
        ("0.000001", "10.00", BalanceState.LOW),  # shown as 0.00, but money is left
        ("0", "10.00", BalanceState.DEPLETED),  # at zero is depleted, not low
        ("-3.50", "10.00", BalanceState.DEPLETED),
        ("25.00", "50.00", BalanceState.LOW),  # the account's own threshold decides
        ("0.50", "0", BalanceState.OK),
    ],
)
def test_given_a_balance_and_a_threshold_then_its_state_is_decided_on_the_exact_amount(
    balance: str, threshold: str, expected: BalanceState
) -> None:
    assert balance_state(Decimal(balance), Decimal(threshold)) is expected


@pytest.mark.parametrize(
    ("exact", "shown"),
    [("-0.1829", "-0.18"), ("0.125", "0.12"), ("0.135", "0.14"), ("0", "0.00"), ("15", "15.00")],
)
def test_given_an_exact_balance_then_it_is_shown_rounded_half_even_to_the_cent(
    exact: str, shown: str
) -> None:
    assert format(to_cent(Decimal(exact)), "f") == shown


def test_given_states_then_each_account_keeps_the_threshold_of_its_newest_version() -> None:
    # given an account that set an auto-recharge threshold in version 2, and one that never did
    chose = AutoRecharge(enabled=True, threshold=Decimal("25.00"), amount=TEN, card_token="tok_a")
    states = [
        account_state(SID, 2).model_copy(update={"auto_recharge": chose}),
        account_state(SID, 1),
        account_state(OTHER, 1),
    ]
    # then the newest version's threshold counts, and the default where none was chosen
    assert newest_thresholds(states) == {SID: (2, Decimal("25.00")), OTHER: (1, TEN)}


@pytest.mark.parametrize("mode", [BillingMode.TRIAL, BillingMode.PAY_AS_YOU_GO, None])
def test_given_a_prepaid_or_unknown_account_then_it_may_have_a_balance(
    mode: BillingMode | None,
) -> None:
    ensure_prepaid(mode, SID)  # raises nothing


def test_given_an_invoiced_account_then_it_has_no_prepaid_balance() -> None:
    with pytest.raises(InvoicedAccountError, match="no prepaid balance"):
        ensure_prepaid(BillingMode.INVOICED, SID)


def request(amount: str = "20.00", card: str = "tok_visa", sid: str = SID) -> TopUpRequest:
    return TopUpRequest(top_up_id="TU1", account_sid=sid, amount=Decimal(amount), card_token=card)


def made(of: TopUpRequest) -> TopUp:
    return TopUp(
        top_up_id=of.top_up_id,
        account_sid=of.account_sid,
        amount=of.amount,
        balance=Decimal("35.00"),
        fingerprint=of.fingerprint,
        provider_reference="dev_TU1",
        created_at=NOW,
    )


def test_given_the_same_request_again_then_it_gets_the_first_answer() -> None:
    first = made(request("20.00"))
    # "20" and "20.00" are the same amount: the same request
    assert repeat_of(first, request("20")) == first


@pytest.mark.parametrize(
    "other", [request(amount="20.01"), request(card="tok_other"), request(sid=OTHER)]
)
def test_given_another_request_under_the_same_id_then_it_conflicts(other: TopUpRequest) -> None:
    with pytest.raises(TopUpConflictError, match="TU1"):
        repeat_of(made(request()), other)


def test_given_a_top_up_then_its_event_says_so_and_its_id_derives_from_the_top_up() -> None:
    event = top_up_changed(made(request()))
    assert (event.event_id, event.cause, event.top_up_id) == ("top_up:TU1", "top_up", "TU1")
    assert (event.amount, event.balance, event.charge_id) == (Decimal("20.00"), Decimal(35), None)


def test_given_new_trial_states_then_each_account_is_due_its_credit_once() -> None:
    states = [
        account_state(SID, 1, BillingMode.TRIAL),
        account_state(SID, 2, BillingMode.TRIAL),
        account_state(OTHER, 1, BillingMode.TRIAL),
    ]
    assert trial_credits_due(states, {}) == sorted([SID, OTHER])


def test_given_a_trial_state_no_newer_than_the_known_one_then_no_credit_is_due() -> None:
    # a replay of version 1, and a late trial state behind a known pay-as-you-go version 3
    states = [account_state(SID, 1, BillingMode.TRIAL), account_state(OTHER, 2, BillingMode.TRIAL)]
    assert trial_credits_due(states, {SID: 1, OTHER: 3}) == []


def test_given_states_that_are_not_trial_then_no_credit_is_due() -> None:
    states = [
        account_state(SID, 1, BillingMode.PAY_AS_YOU_GO),
        account_state(OTHER, 1, BillingMode.INVOICED),
    ]
    assert trial_credits_due(states, {}) == []


@pytest.mark.parametrize(
    ("token", "outcome"),
    [
        ("tok_visa", CardOutcome.APPROVED),
        ("tok_decline", CardOutcome.DECLINED),
        ("4242424242424242", CardOutcome.INVALID_TOKEN),
        ("", CardOutcome.INVALID_TOKEN),
    ],
)
async def test_given_a_card_token_then_the_development_provider_answers_by_its_rule(
    token: str, outcome: CardOutcome
) -> None:
    provider = DevelopmentPaymentProvider()
    authorized = await provider.authorize(token)
    charged = await provider.charge(
        idempotency_key="TU1", card_token=token, amount=TEN, currency="USD"
    )
    assert authorized.outcome is charged.outcome is outcome
    assert authorized.approved is charged.approved is (outcome is CardOutcome.APPROVED)
    assert (charged.reason is None) is (outcome is CardOutcome.APPROVED)


def test_given_production_then_the_development_payment_provider_is_refused() -> None:
    with pytest.raises(ValidationError, match="payment provider"):
        InvoicingSettings(environment="production", service_token="a-real-token")
