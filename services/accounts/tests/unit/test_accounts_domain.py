"""A new account: its SID, its starting state, and the state event each version publishes."""

import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from tally_accounts.api import AccountCreate
from tally_accounts.domain import (
    NewAccount,
    is_valid_time_zone,
    new_account_sid,
    open_trial_account,
    state_event,
)
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)


def test_given_new_sids_then_each_is_ac_and_32_lowercase_hex_and_unique() -> None:
    sids = {new_account_sid() for _ in range(100)}
    assert len(sids) == 100
    assert all(re.fullmatch(r"AC[0-9a-f]{32}", sid) for sid in sids)


@pytest.mark.parametrize("zone", ["America/Chicago", "Europe/Paris", "UTC", "Asia/Kolkata"])
def test_given_an_iana_zone_then_it_is_valid(zone: str) -> None:
    assert is_valid_time_zone(zone)


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "America", "", "../etc/passwd", "/etc/localtime", "localtime", "CST "]
)
def test_given_something_else_then_it_is_not_a_time_zone(zone: str) -> None:
    assert not is_valid_time_zone(zone)


def test_given_a_request_then_the_new_account_is_an_active_trial_at_version_1() -> None:
    request = NewAccount(owner="acme", friendly_name="Acme", time_zone="America/Chicago", flex=True)
    account = open_trial_account(request, sid="AC" + "a" * 32, now=NOW)
    assert (account.status, account.billing_mode, account.version) == (
        AccountStatus.ACTIVE,
        BillingMode.TRIAL,
        1,
    )
    assert (account.owner, account.time_zone, account.flex, account.reseller) == (
        "acme",
        "America/Chicago",
        True,
        False,
    )
    assert account.created_at == account.updated_at == NOW


def test_given_an_account_then_its_state_event_carries_everything_under_a_derived_id() -> None:
    request = NewAccount(
        owner="acme", friendly_name="Acme", time_zone="Europe/Paris", reseller=True
    )
    account = open_trial_account(request, sid="AC" + "b" * 32, now=NOW)
    event = state_event(account)
    assert event == AccountState(
        event_id=f"account:{account.sid}:v1",
        occurred_at=NOW,
        account_sid=account.sid,
        version=1,
        owner="acme",
        friendly_name="Acme",
        time_zone="Europe/Paris",
        status=AccountStatus.ACTIVE,
        billing_mode=BillingMode.TRIAL,
        reseller=True,
    )
    # Publishing the same version twice (a relay retry) yields the very same event.
    assert state_event(account) == event


def test_given_an_unknown_time_zone_in_a_request_then_the_error_names_time_zone() -> None:
    with pytest.raises(ValidationError) as raised:
        AccountCreate(
            owner="acme", friendly_name="Acme", time_zone="Mars/Olympus", contact_email="a@b.co"
        )
    assert [error["loc"] for error in raised.value.errors()] == [("time_zone",)]


def test_given_an_owner_longer_than_128_characters_then_the_request_is_refused() -> None:
    with pytest.raises(ValidationError, match="owner"):
        AccountCreate(owner="x" * 129, friendly_name="Acme", time_zone="UTC")


def test_given_the_same_request_then_the_same_fingerprint_and_any_change_another() -> None:
    request = NewAccount(owner="acme", friendly_name="Acme", time_zone="UTC")
    same = NewAccount(owner="acme", friendly_name="Acme", time_zone="UTC", flex=False)
    changed = [
        NewAccount(owner="acme", friendly_name="Acme", time_zone="UTC", flex=True),
        NewAccount(owner="acme", friendly_name="Acme EU", time_zone="UTC"),
        NewAccount(owner="acme2", friendly_name="Acme", time_zone="UTC"),
    ]
    assert same.fingerprint() == request.fingerprint()
    assert len({r.fingerprint() for r in [request, *changed]}) == 4
