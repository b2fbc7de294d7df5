"""How changes move an account: zone changes, billing-mode switches, the suspension timer."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tally_accounts.changes import (
    balance_outcome,
    may_suspend,
    reactivated,
    suspended,
    to_invoiced,
    with_time_zone,
)
from tally_accounts.domain import Account, NewAccount, open_trial_account, state_event
from tally_accounts.terms import AgreedTerms
from tally_accounts.upgrade import top_up_id_of
from tally_contracts.accounts import (
    AccountStatus,
    AutoRecharge,
    BillingMode,
    UpgradeRequest,
)
from tally_contracts.periods import EARLIEST, ZoneSpan, date_instant

NOW = datetime(2026, 10, 14, 15, 0, tzinfo=UTC)
TERMS = AgreedTerms(
    request_id="IR1",
    rates={"calls-inbound": Decimal("0.007")},
    discount_percent=Decimal("5"),
    net_terms_days=30,
    credit_limit=Decimal("5000.00"),
)


def trial(time_zone: str = "America/Chicago") -> Account:
    request = NewAccount(owner="acme", friendly_name="Acme", time_zone=time_zone)
    return open_trial_account(request, sid="AC" + "c" * 32, now=NOW - timedelta(days=30))


def test_given_a_new_zone_then_it_applies_from_the_next_local_month() -> None:
    changes = with_time_zone(trial(), "Europe/Paris", NOW)
    assert changes["time_zone"] == "Europe/Paris"
    first, then = changes["time_zones"]  # type: ignore[misc]
    assert first == ZoneSpan(time_zone="America/Chicago", effective_from=EARLIEST)
    # November begins at Chicago's midnight (05:00 UTC, daylight time ends on Nov 1st)
    assert then == ZoneSpan(
        time_zone="Europe/Paris",
        effective_from=datetime(2026, 11, 1, 5, 0, tzinfo=UTC),
        first_month="2026-11",
    )
    # this month's usage is still dated in Chicago, the next month's in Paris
    history = list(changes["time_zones"])  # type: ignore[call-overload]
    assert date_instant(history, NOW).period == "2026-10@America/Chicago"
    assert date_instant(history, datetime(2026, 11, 2, tzinfo=UTC)).period == "2026-11@Europe/Paris"


def test_given_a_pending_change_then_another_replaces_it_and_the_current_zone_cancels_it() -> None:
    account = replace(trial(), **with_time_zone(trial(), "Europe/Paris", NOW))  # type: ignore[arg-type]
    again = with_time_zone(account, "Asia/Tokyo", NOW)
    assert [span.time_zone for span in again["time_zones"]] == [  # type: ignore[attr-defined]
        "America/Chicago",
        "Asia/Tokyo",
    ]
    back = with_time_zone(account, "America/Chicago", NOW)
    assert [span.time_zone for span in back["time_zones"]] == ["America/Chicago"]  # type: ignore[attr-defined]


def test_given_a_switch_to_invoiced_then_terms_apply_auto_recharge_is_off_and_version_grows() -> (
    None
):
    account = replace(
        trial(),
        billing_mode=BillingMode.PAY_AS_YOU_GO,
        auto_recharge=AutoRecharge(
            enabled=True, threshold=Decimal(5), amount=Decimal(20), card_token="tok_1"
        ),
    )
    switched = to_invoiced(account, TERMS, now=NOW)
    assert (switched.billing_mode, switched.version, switched.updated_at) == (
        BillingMode.INVOICED,
        2,
        NOW,
    )
    assert switched.auto_recharge == AutoRecharge(enabled=False)
    assert switched.terms is not None
    assert (switched.terms.net_terms_days, switched.terms.credit_limit) == (30, Decimal("5000.00"))
    state = state_event(switched)
    assert state.terms == switched.terms
    assert state.auto_recharge.enabled is False


def test_given_a_balance_at_or_below_zero_then_a_prepaid_account_starts_its_grace_period() -> None:
    account = trial()
    assert balance_outcome(account, Decimal(0), at=NOW).depleted_since == NOW
    started = replace(account, balance_depleted_since=NOW)
    later = balance_outcome(started, Decimal("-1.5"), at=NOW + timedelta(hours=1))
    assert later.depleted_since == NOW  # kept from the first depleting fact


def test_given_an_invoiced_account_then_no_balance_ever_starts_a_grace_period() -> None:
    invoiced = to_invoiced(trial(), TERMS, now=NOW)
    outcome = balance_outcome(invoiced, Decimal(-100), at=NOW)
    assert (outcome.depleted_since, outcome.reactivate) == (None, False)
    assert not may_suspend(
        replace(invoiced, balance_depleted_since=NOW), now=NOW + timedelta(days=30), grace_hours=72
    )


@pytest.mark.parametrize(
    ("hours", "suspends"), [(71, False), (72, False), (72.01, True), (500, True)]
)
def test_given_a_depleted_account_then_it_is_suspended_only_past_the_grace_period(
    hours: float, suspends: bool
) -> None:
    account = replace(trial(), balance_depleted_since=NOW)
    assert may_suspend(account, now=NOW + timedelta(hours=hours), grace_hours=72) is suspends


def test_given_a_suspension_for_balance_then_a_positive_balance_reactivates_it() -> None:
    account = suspended(replace(trial(), balance_depleted_since=NOW), now=NOW)
    assert (account.status, account.suspended_for_balance) == (AccountStatus.SUSPENDED, True)
    outcome = balance_outcome(account, Decimal("10.00"), at=NOW)
    assert (outcome.depleted_since, outcome.reactivate) == (None, True)
    active = reactivated(account, now=NOW)
    assert (active.status, active.suspended_for_balance, active.version) == (
        AccountStatus.ACTIVE,
        False,
        account.version + 1,
    )


def test_given_the_same_request_then_the_same_top_up_id_and_another_request_another() -> None:
    request = UpgradeRequest.model_validate(
        {
            "method": "pay_as_you_go",
            "address_id": "AD1",
            "top_up": {"amount": "25.00", "card_token": "tok_1"},
        }
    )
    other = request.model_copy(update={"address_id": "AD2"})
    sid = "AC" + "d" * 32
    assert top_up_id_of(sid, request) == top_up_id_of(sid, request.model_copy())
    assert top_up_id_of(sid, request) != top_up_id_of(sid, other)
    assert top_up_id_of(sid, request) != top_up_id_of("AC" + "e" * 32, request)
