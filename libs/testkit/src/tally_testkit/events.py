"""Contract events a test makes up for itself, valid and with only what the test cares about."""

from __future__ import annotations

from datetime import UTC, datetime

from tally_contracts.accounts import AccountState, AccountStatus, BillingMode


def account_state(
    sid: str, version: int, billing_mode: BillingMode = BillingMode.PAY_AS_YOU_GO
) -> AccountState:
    """Version ``version`` of an active account's state, as the accounts service publishes it."""
    return AccountState(
        event_id=f"account:{sid}:v{version}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        version=version,
        owner="integration-test",
        friendly_name="it",
        time_zone="America/Chicago",
        status=AccountStatus.ACTIVE,
        billing_mode=billing_mode,
    )
