"""The notification policy: which events lead to a notification, and every decision's record."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_contracts.balances import BalanceChanged
from tally_notifications.domain import Decision, Outcome, decide, decision_id_for, recorded
from tally_runtime.account_states import KnownAccount

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2


def balance_changed(event_id: str = "charge:CH1") -> BalanceChanged:
    return BalanceChanged(
        event_id=event_id,
        occurred_at=NOW,
        account_sid=SID,
        charge_id="CH1",
        usage_event_id="call-42",
        amount=Decimal("0.175"),
        balance=Decimal("-0.175"),
    )


def known_account(billing_mode: BillingMode) -> KnownAccount:
    return KnownAccount(
        account_sid=SID,
        version=3,
        billing_mode=billing_mode,
        status=AccountStatus.ACTIVE,
        time_zone="America/Chicago",
    )


@pytest.mark.parametrize(
    "account",
    [None, known_account(BillingMode.TRIAL), known_account(BillingMode.INVOICED)],
    ids=["account-not-known-yet", "trial", "invoiced"],
)
def test_given_a_balance_change_when_deciding_then_no_rule_applies_yet_whatever_the_account(
    account: KnownAccount | None,
) -> None:
    assert decide(balance_changed(), account) == Decision(
        Outcome.NONE, "no notification rule for balance.changed yet"
    )


def test_given_a_decision_when_recorded_then_it_names_its_event_account_and_time() -> None:
    event = balance_changed()
    kept = recorded(event, decide(event, None), NOW)
    assert kept.source_event_id == "charge:CH1"
    assert kept.account_sid == SID
    assert kept.event_type == "balance.changed"
    assert kept.outcome is Outcome.NONE
    assert kept.decided_at == NOW


def test_given_the_same_event_decided_twice_then_both_records_have_the_same_id() -> None:
    first = recorded(balance_changed(), decide(balance_changed(), None), NOW)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    again = recorded(balance_changed(), decide(balance_changed(), None), later)
    assert first.decision_id == again.decision_id == decision_id_for("charge:CH1")
    assert decision_id_for("charge:CH2") != first.decision_id
