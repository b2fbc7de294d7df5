"""Contract events a test makes up for itself, valid and with only what the test cares about."""

from __future__ import annotations

from datetime import UTC, datetime

from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.envelope import Envelope
from tally_runtime.records import ConsumedRecord


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


def consumed(topic: str, event: Envelope, offset: int = 0) -> ConsumedRecord:
    """``event`` as the engine hands it to a handler: a record of ``topic`` keyed by its SID."""
    return ConsumedRecord(
        topic=topic,
        partition=0,
        offset=offset,
        key=event.account_sid.encode(),
        value=event.model_dump_json().encode(),
    )
