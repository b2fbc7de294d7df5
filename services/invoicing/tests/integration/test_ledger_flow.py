"""The prepaid ledger on the real broker: crossings once each, and the switch to invoiced."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from tally_contracts.accounts import AccountState, AutoRecharge, BillingMode, InvoicingTerms
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS, USAGE_RECORDED
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_testkit import Publish, Tail, account_state, eventually, new_sid

WaitConsumed = Callable[[Any], Awaitable[None]]


def usage(sid: str, quantity: str, category: str = "calls-inbound") -> UsageRecorded:
    usage_event_id = f"it-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return UsageRecorded(
        event_id=f"usage:{sid}:{usage_event_id}",
        occurred_at=now,
        account_sid=sid,
        usage_event_id=usage_event_id,
        category=UsageCategory(category),
        quantity=Decimal(quantity),
        usage_occurred_at=now,
    )


def paying(sid: str, version: int, **recharge: Any) -> AccountState:
    state = account_state(sid, version, BillingMode.PAY_AS_YOU_GO)
    return state.model_copy(update={"auto_recharge": AutoRecharge(**recharge)})


def invoiced(sid: str, version: int) -> AccountState:
    state = account_state(sid, version, BillingMode.INVOICED)
    terms = InvoicingTerms(request_id="IR1", net_terms_days=30, credit_limit=Decimal(1))
    return state.model_copy(update={"terms": terms})


async def alerts_of(reader: AIOKafkaConsumer, sid: str, found: dict[str, Any]) -> dict[str, Any]:
    """Read what arrived on the alerts topic, keeping `sid`'s by event id (copies are one)."""
    batches = await reader.getmany(timeout_ms=300)
    for records in batches.values():
        for record in records:
            if record.key == sid.encode():
                value = json.loads(record.value)
                found[value["event_id"]] = value
    return found


async def top_up(http: httpx.AsyncClient, sid: str, amount: str) -> None:
    body = {"top_up_id": f"TU{uuid.uuid4().hex}", "amount": amount, "card_token": "tok_visa"}
    response = await http.post(f"/accounts/{sid}/top-ups", json=body)
    assert response.status_code == 201, response.text


async def test_given_usage_drawing_a_balance_down_then_each_crossing_is_published_once(
    app: FastAPI,
    http: httpx.AsyncClient,
    publish: Publish,
    tail: Tail,
    wait_consumed: WaitConsumed,
) -> None:
    # given a pay-as-you-go account with 12.00 and the default threshold of 10.00
    sid = new_sid()
    alerts = await tail(BALANCE_ALERTS)
    state = paying(sid, 1)
    await wait_consumed(await publish(ACCOUNT_STATE, state))
    await top_up(http, sid, "12.00")

    # when usage in many events draws it to 5.10 (low), then below 0 (depleted), batch by batch
    for _ in range(6):  # 6 x 100 min x 0.0085 = 5.10 drawn, past 10.00 once
        await wait_consumed(await publish(USAGE_RECORDED, usage(sid, "100")))
    for _ in range(3):  # 3 x 300 min = 7.65 more: the balance goes below 0 once
        await wait_consumed(await publish(USAGE_RECORDED, usage(sid, "300")))
    # and a top-up brings it back above the threshold
    await top_up(http, sid, "20.00")

    # then low, depleted and recovered were each published once, in that order
    found: dict[str, Any] = {}
    seen = await eventually(
        lambda: alerts_of(alerts, sid, found),
        lambda got: any(e.get("crossing") == "recovered" for e in got.values()),
    )
    # (another invoicing on the shared broker, another suite's, may rate the same usage in its
    # own database, without this test's top-ups: its copies name entries this ledger lacks)
    async with app.state.pool.acquire() as conn:
        ledger = {
            row["entry_id"]: row["balance_after"]
            for row in await conn.fetch(
                "SELECT entry_id, balance_after FROM ledger_entries WHERE account_sid = $1", sid
            )
        }
    ours = [
        e
        for e in seen.values()
        if e["type"] == "balance.crossed"
        and ledger.get(e["event_id"].split(":", 2)[2]) == Decimal(e["balance"])
    ]
    assert [e["crossing"] for e in ours] == ["low", "depleted", "recovered"]
    assert [Decimal(e["balance"]) for e in ours] == [
        Decimal("9.45"),
        Decimal("-0.75"),
        Decimal("19.25"),
    ]
    balance = (await http.get(f"/accounts/{sid}/balance")).json()
    assert balance["exact_balance"] == "19.25"  # 12 - 12.75 + 20
    # and the balance is the sum of the account's ledger
    async with app.state.pool.acquire() as conn:
        entries = await conn.fetchval(
            "SELECT sum(amount) FROM ledger_entries WHERE account_sid = $1", sid
        )
    assert entries == Decimal("19.25")


async def test_given_a_switch_to_invoiced_then_the_balance_freezes_and_usage_stops_drawing(
    app: FastAPI,
    http: httpx.AsyncClient,
    publish: Publish,
    wait_consumed: WaitConsumed,
) -> None:
    # given a pay-as-you-go account with auto-recharge, 11.00, and usage that crossed low
    sid = new_sid()
    state = paying(
        sid, 1, enabled=True, threshold=Decimal(10), amount=Decimal(25), card_token="tok_visa"
    )
    await wait_consumed(await publish(ACCOUNT_STATE, state))
    await top_up(http, sid, "11.00")
    await wait_consumed(await publish(USAGE_RECORDED, usage(sid, "200")))  # 1.70: low

    # when the account is switched to invoiced, and more usage comes
    switched = invoiced(sid, 2)
    await wait_consumed(await publish(ACCOUNT_STATE, switched))
    await wait_consumed(await publish(USAGE_RECORDED, usage(sid, "1000")))

    # then the remainder 9.30 was frozen for the next invoice, and the balance is 0
    async with app.state.pool.acquire() as conn:
        frozen = await conn.fetch(
            "SELECT remainder, invoiced_in FROM frozen_balances WHERE account_sid = $1", sid
        )
        charges = await conn.fetch(
            "SELECT amount, prepaid FROM charges WHERE account_sid = $1 ORDER BY rated_order", sid
        )
        balance, entries = await conn.fetchrow(
            "SELECT (SELECT balance FROM balances WHERE account_sid = $1),"
            " (SELECT sum(amount) FROM ledger_entries WHERE account_sid = $1)",
            sid,
        )
        recharges = await conn.fetch("SELECT state FROM recharges WHERE account_sid = $1", sid)
    assert [(r["remainder"], r["invoiced_in"]) for r in frozen] == [(Decimal("9.30"), None)]
    # the usage after the switch is charged, not drawn from any balance
    assert [(c["amount"], c["prepaid"]) for c in charges] == [
        (Decimal("1.7"), True),
        (Decimal("8.5"), False),
    ]
    assert balance == entries == 0
    # and the recharge the low crossing asked for will never charge the card
    assert [r["state"] for r in recharges] == ["skipped"]
    answer = await http.get(f"/accounts/{sid}/balance")
    assert answer.status_code == 409
