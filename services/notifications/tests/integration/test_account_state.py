"""Notifications consumes `accounts.state.v1`, so its policy decides with the newest state."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.account_states import known_account
from tally_testkit import Publish, account_state, new_sid


async def test_given_two_states_published_then_the_newer_one_is_what_decisions_read(
    app: FastAPI, publish: Publish, wait_consumed: Callable[[Any], Awaitable[None]]
) -> None:
    # given an account, when its version 1 and then its version 2 are published
    sid = new_sid()
    await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
    await wait_consumed(await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.INVOICED)))

    # then version 2 is the state `decide_notification` reads for the account
    known = await known_account(app.state.pool, sid)
    assert known is not None
    assert (known.version, known.billing_mode) == (2, BillingMode.INVOICED)
