"""Notifications keeps only the newest state of each account from `accounts.state.v1`."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_notifications import handlers, repository
from tally_notifications.app import MIGRATIONS
from tally_notifications.config import NotificationsSettings
from tally_runtime.lifecycle import migrated_database
from tally_testkit import new_sid


def account_state(sid: str, version: int, billing_mode: BillingMode) -> AccountState:
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


async def test_given_version_2_then_version_1_then_version_2_is_kept(
    app: FastAPI,
    publish: Callable[..., Awaitable[Any]],
    wait_consumed: Callable[[Any], Awaitable[None]],
) -> None:
    # given an account whose version 2 is invoiced
    sid = new_sid()
    await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.INVOICED))

    # when the older version 1 arrives after it, then version 2 again with other content
    await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
    last = await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.PAY_AS_YOU_GO))
    await wait_consumed(last)

    # then the first version 2 is what notifications knows
    async with app.state.pool.acquire() as conn:
        known = await repository.fetch_account(conn, sid)
    assert known is not None
    assert (known.version, known.billing_mode) == (2, BillingMode.INVOICED)


async def test_given_a_state_recorded_twice_directly_then_the_second_changes_nothing(
    settings: NotificationsSettings,
) -> None:
    sid = new_sid()
    state = account_state(sid, 3, BillingMode.PAY_AS_YOU_GO)
    async with migrated_database(settings, MIGRATIONS) as pool:
        assert await handlers.record_account_state(state, pool=pool) is True
        assert await handlers.record_account_state(state, pool=pool) is False
        async with pool.acquire() as conn:
            known = await repository.fetch_account(conn, sid)
    assert known is not None
    assert (known.version, known.billing_mode) == (3, BillingMode.PAY_AS_YOU_GO)
