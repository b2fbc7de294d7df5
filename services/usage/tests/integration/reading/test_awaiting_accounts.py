"""Usage of an account usage has no state for yet: counted for ops, `unknown` until applied."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from tally_runtime.clock import utc_now
from tally_testkit import eventually, new_sid

StartUsage = Callable[[Any], AbstractAsyncContextManager[Any]]


async def test_given_usage_before_its_accounts_state_then_ops_count_it_and_its_receipt_waits(
    start_usage: StartUsage, produce: Any
) -> None:
    sid = new_sid()
    now = datetime.now(UTC).isoformat()
    async with start_usage(utc_now) as usage:

        async def awaiting() -> dict[str, Any]:
            response = await usage.http.get("/ops/awaiting-accounts")
            assert response.status_code == 200, response.text
            return dict(response.json())

        async def receipt() -> dict[str, Any]:
            response = await usage.http.post(
                f"/accounts/{sid}/receipts", json={"event_ids": ["early-1"]}
            )
            assert response.status_code == 200, response.text
            return dict(response.json()["receipts"][0])

        # Given two events of an account whose state has not arrived
        await produce.usage(sid, {"event_id": "early-1", "occurred_at": now})
        await produce.usage(sid, {"event_id": "early-2", "occurred_at": now})

        # Then ops see them waiting, and the event's receipt says it is not stored yet
        parked = await eventually(awaiting, lambda found: found["accounts"].get(sid) == 2)
        assert parked["records"] >= 2
        assert (await receipt())["status"] == "unknown"

        # When the account's state arrives, they are recorded and wait no more
        await produce.account(sid, "America/Chicago")
        recorded = await eventually(receipt, lambda found: found["status"] == "recorded")
        assert recorded["duplicates"] == 0
        assert sid not in (await awaiting())["accounts"]
