"""Invoicing consumes `accounts.state.v1` and shows the newest state of an account it has seen."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_testkit import Publish, account_state, new_sid


async def test_given_two_states_published_then_get_account_shows_the_newer_one(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: Callable[[Any], Awaitable[None]]
) -> None:
    # given an account invoicing has not seen yet
    sid = new_sid()
    unknown = await http.get(f"/accounts/{sid}")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"

    # when its version 1 and then its version 2 are published
    await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
    await wait_consumed(await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.INVOICED)))

    # then invoicing shows version 2
    response = await http.get(f"/accounts/{sid}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "account_sid": sid,
        "version": 2,
        "billing_mode": "invoiced",
        "status": "active",
        "time_zone": "America/Chicago",
    }
