"""Every balance change gets exactly one decision, kept and listed newest first."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_notifications import handlers
from tally_notifications.app import MIGRATIONS, PROJECTIONS
from tally_notifications.config import NotificationsSettings
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import consumed, eventually, new_sid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def balance_changed(sid: str, amount: str = "0.175") -> BalanceChanged:
    charge_id = f"CH{uuid.uuid4().hex}"
    return BalanceChanged(
        event_id=f"charge:{charge_id}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        charge_id=charge_id,
        usage_event_id=f"it-{uuid.uuid4().hex}",
        amount=Decimal(amount),
        balance=-Decimal(amount),
    )


async def decisions_of(http: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    response = await http.get(f"/accounts/{sid}/decisions")
    assert response.status_code == 200, response.text
    return list(response.json()["decisions"])


async def test_given_a_balance_change_published_twice_then_exactly_one_decision(
    app: FastAPI,
    http: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
) -> None:
    # given a balance change, and a later one of the same account behind it on its partition
    sid = new_sid()
    change = balance_changed(sid)
    marker = balance_changed(sid, "0.0079")

    # when the first is published twice, then the marker
    await publish(BALANCE_CHANGED, change)
    await publish(BALANCE_CHANGED, change)
    await publish(BALANCE_CHANGED, marker)

    # then once the marker is decided, the first change has one decision, not two
    found = await eventually(lambda: decisions_of(http, sid), lambda got: len(got) >= 2)
    assert sorted(d["source_event_id"] for d in found) == sorted([change.event_id, marker.event_id])
    assert {(d["event_type"], d["outcome"], d["reason"]) for d in found} == {
        ("balance.changed", "none", "no notification rule for balance.changed yet")
    }
    assert found[0]["source_event_id"] == marker.event_id  # newest first


async def test_given_decide_called_twice_directly_then_the_second_call_changes_nothing(
    settings: NotificationsSettings,
) -> None:
    # given a migrated database and one balance change
    sid = new_sid()
    change = balance_changed(sid)
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        # when the handler decides about it twice, the second time later
        record = consumed(BALANCE_CHANGED, change)
        decide = handlers.decide_notifications
        first = await apply_batch(pool, decide, [record], clock=lambda: NOW)
        later = NOW + timedelta(hours=1)
        again = await apply_batch(pool, decide, [record], clock=lambda: later)
        kept = await handlers.list_decisions(sid, pool=pool, limit=10)

    # then one decision is kept, the first one, and the second call did nothing
    assert again.result == []
    assert kept == first.result
    assert kept[0].decided_at == NOW


async def test_given_a_malformed_sid_then_the_problem_names_the_field(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/accounts/AC123/decisions")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["sid"]
