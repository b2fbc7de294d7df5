"""Recorded usage is charged exactly once, and the balance change is published exactly once."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from tally_contracts.accounts import BillingMode
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS, BALANCE_CHANGED, USAGE_RECORDED
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing import handlers
from tally_invoicing.app import MIGRATIONS, PROJECTIONS
from tally_invoicing.config import InvoicingSettings
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import account_state, consumed, eventually, new_sid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def usage_recorded(sid: str, quantity: str, category: str = "calls-outbound") -> UsageRecorded:
    usage_event_id = f"it-{uuid.uuid4().hex}"
    return UsageRecorded(
        event_id=f"usage:{sid}:{usage_event_id}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        usage_event_id=usage_event_id,
        category=UsageCategory(category),
        quantity=Decimal(quantity),
        usage_occurred_at=datetime.now(UTC),
    )


async def charges_of(http: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    response = await http.get(f"/accounts/{sid}/charges")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def balance_events(
    reader: AIOKafkaConsumer, sid: str, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Read what has arrived on the balance topic since the last call, keeping `sid`'s."""
    batches = await reader.getmany(timeout_ms=500)
    for records in batches.values():
        found.extend(json.loads(r.value) for r in records if r.key == sid.encode())
    return found


async def test_given_usage_published_twice_then_one_charge_and_one_balance_change(
    app: FastAPI,
    http: httpx.AsyncClient,
    publish: Callable[..., Awaitable[Any]],
    tail: Callable[[str], Awaitable[AIOKafkaConsumer]],
) -> None:
    # given a reader of the balance topic, and usage of 12.5 outbound minutes of an account
    # invoicing has no state for yet (it opens as a trial: 15.00 of credit first)
    sid = new_sid()
    balances = await tail(BALANCE_CHANGED)
    usage = usage_recorded(sid, "12.5")
    # a later event of the same account, behind the copies on the account's partition
    marker = usage_recorded(sid, "1", category="sms-outbound")

    # when the same event is published twice, then the marker
    await publish(USAGE_RECORDED, usage)
    await publish(USAGE_RECORDED, usage)
    await publish(USAGE_RECORDED, marker)

    # then once the marker is charged, the usage was charged once, not twice
    billed = await eventually(lambda: charges_of(http, sid), lambda found: found["count"] >= 2)
    assert billed["count"] == 2
    assert sorted(c["usage_event_id"] for c in billed["charges"]) == sorted(
        [usage.usage_event_id, marker.usage_event_id]
    )
    by_usage = {c["usage_event_id"]: c for c in billed["charges"]}
    assert by_usage[usage.usage_event_id]["amount"] == "0.175"  # 12.5 min x 0.014 USD
    assert by_usage[marker.usage_event_id]["amount"] == "0.0079"
    assert billed["total"] == "0.1829"

    balance = (await http.get(f"/accounts/{sid}/balance")).json()
    assert (balance["exact_balance"], balance["currency"]) == ("14.8171", "USD")
    assert (balance["balance"], balance["state"]) == ("14.82", "ok")

    # and the balance topic tells the latest balance once the marker is charged (one change
    # per account and batch, not one per charge), and never a balance charged twice. Other
    # invoicing processes on the shared broker rate the same events in batches of their own,
    # so the topic may hold their changes too: each must still be a balance charged once.
    found: list[dict[str, Any]] = []
    events = await eventually(
        lambda: balance_events(balances, sid, found),
        lambda got: any(Decimal(e["balance"]) == Decimal("14.8171") for e in got),
    )
    charged_once = {Decimal("14.825"), Decimal("14.8171")}  # after the usage; after the marker
    assert {Decimal(e["balance"]) for e in events} <= charged_once


async def test_given_charge_usage_called_twice_then_the_second_call_changes_nothing(
    settings: InvoicingSettings,
) -> None:
    # given a migrated database and one recorded usage event of an account invoicing has no
    # state for yet (it opens as a trial, with 15.00 of credit)
    sid = new_sid()
    usage = usage_recorded(sid, "30", category="phone-numbers")
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        # when the handler applies it twice, as a redelivered batch would
        record = consumed(USAGE_RECORDED, usage)
        first = await apply_batch(pool, handlers.charge_usage, [record], clock=lambda: NOW)
        again = await apply_batch(pool, handlers.charge_usage, [record], clock=lambda: NOW)

        # then the first charged 30 number-days at 0.0400 and the second did nothing at all
        [charge] = first.result
        assert charge.amount == Decimal("1.2")
        assert (again.result, again.published) == ([], 0)
        listed = await handlers.list_charges(sid, pool=pool, limit=10)
        assert (listed.count, listed.total) == (1, Decimal("1.2"))
        balance = await handlers.current_balance(sid, pool=pool)
        assert balance.amount == Decimal("13.8")
        async with pool.acquire() as conn:
            queued = await conn.fetch("SELECT topic, key, payload FROM outbox")
            credits = await conn.fetchval(
                "SELECT count(*) FROM trial_credits WHERE account_sid = $1", sid
            )
        assert credits == 1
        assert sorted(row["topic"] for row in queued) == [BALANCE_CHANGED]
        change = next(row for row in queued if row["topic"] == BALANCE_CHANGED)
        assert json.loads(change["payload"])["event_id"] == f"charge:{charge.charge_id}"


async def test_given_an_account_never_charged_then_its_balance_is_zero_and_it_has_no_charges(
    http: httpx.AsyncClient,
) -> None:
    sid = new_sid()
    balance = (await http.get(f"/accounts/{sid}/balance")).json()
    charges = await charges_of(http, sid)
    assert (balance["balance"], balance["exact_balance"], balance["updated_at"]) == (
        "0.00",
        "0",
        None,
    )
    assert (charges["count"], charges["total"], charges["charges"]) == (0, "0", [])


async def test_given_a_malformed_sid_then_the_problem_names_the_field(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/accounts/not-a-sid/balance")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["sid"]


async def test_given_usage_rated_before_the_accounts_first_state_then_the_trial_credit_comes_first_and_once(  # noqa: E501
    settings: InvoicingSettings,
) -> None:
    # given a new trial account whose first usage (5.60: 400 outbound minutes) reaches rating
    # before its first state does, as each topic has its own lag
    sid = new_sid()
    usage = usage_recorded(sid, "400")
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        rated = await apply_batch(
            pool, handlers.charge_usage, [consumed(USAGE_RECORDED, usage)], clock=lambda: NOW
        )
        # when its trial state arrives afterwards
        state = account_state(sid, 1, BillingMode.TRIAL)
        await apply_batch(
            pool,
            handlers.record_account_states,
            [consumed(ACCOUNT_STATE, state)],
            clock=lambda: NOW,
        )

        # then the charge was drawn from the 15.00 credit, not from an empty balance: no
        # "depleted" alert for a brand-new customer, and the credit was given once
        [charge] = rated.result
        assert charge.amount == Decimal("5.6")
        balance = await handlers.current_balance(sid, pool=pool)
        assert balance.amount == Decimal("9.4")
        async with pool.acquire() as conn:
            alerts = await conn.fetch("SELECT payload FROM outbox WHERE topic = $1", BALANCE_ALERTS)
            credits = await conn.fetchval(
                "SELECT count(*) FROM ledger_entries WHERE account_sid = $1 AND kind = $2",
                sid,
                "trial_credit",
            )
        assert [json.loads(row["payload"])["crossing"] for row in alerts] == ["low"]
        assert credits == 1
