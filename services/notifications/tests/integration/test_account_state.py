"""Notifications projects `accounts.state.v1`, so its decisions read the newest state."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_notifications import accounts_repository
from tally_notifications.freshness import partition_of
from tally_testkit import Publish, account_state, new_sid


async def test_given_two_states_published_then_the_newer_one_is_what_decisions_read(
    app: FastAPI, publish: Publish, wait_consumed: Callable[[Any], Awaitable[None]]
) -> None:
    # given an account, when its version 2 and then (late) its version 1 are published
    sid = new_sid()
    await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.INVOICED))
    late = await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
    await wait_consumed(late)

    # then version 2 is the state decisions read, and the partition is applied past both
    views = await accounts_repository.account_views(app.state.pool, [sid])
    assert (views[sid].version, views[sid].billing_mode) == (2, BillingMode.INVOICED)
    partition = partition_of(sid, 8)
    assert late.partition == partition
    applied = await accounts_repository.applied_offsets(app.state.pool, [partition])
    assert applied[partition] >= late.offset + 1
