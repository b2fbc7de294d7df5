"""Triggers decided on the account's fresh state: sent, suppressed or deferred, each kept once."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.balances import BalanceCrossed, BalanceCrossing
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS
from tally_notifications.app import MIGRATIONS
from tally_notifications.config import NotificationsSettings
from tally_notifications.freshness import KafkaEndOffsets
from tally_notifications.handlers import Deciding
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import Publish, consumed, eventually, new_sid

Json = dict[str, Any]


def state(sid: str, version: int, mode: BillingMode, **changes: Any) -> AccountState:
    return AccountState(
        event_id=f"account:{sid}:v{version}",
        occurred_at=datetime.now(UTC),
        account_sid=sid,
        version=version,
        owner="integration-test",
        friendly_name="it",
        time_zone="America/Chicago",
        status=AccountStatus.ACTIVE,
        billing_mode=mode,
        contact_email="billing@acme.example",
        webhook_url="https://acme.example/hooks",
        **changes,
    )


def low(sid: str, *, occurred_at: datetime | None = None) -> BalanceCrossed:
    return BalanceCrossed(
        event_id=f"crossing:{sid}:{uuid.uuid4().hex}",
        occurred_at=occurred_at or datetime.now(UTC),
        account_sid=sid,
        crossing=BalanceCrossing.LOW,
        balance=Decimal("4.40"),
        threshold=Decimal("10.00"),
        auto_recharge=False,
    )


async def notifications_of(http: httpx.AsyncClient, sid: str) -> list[Json]:
    response = await http.get(f"/accounts/{sid}/notifications")
    assert response.status_code == 200, response.text
    return list(response.json()["notifications"])


async def decided(http: httpx.AsyncClient, sid: str, count: int = 1) -> list[Json]:
    """The account's decisions once `count` of them are taken (deferred ones are not)."""
    return await eventually(
        lambda: notifications_of(http, sid),
        lambda got: sum(d["decision"] != "deferred" for d in got) >= count,
    )


async def deliveries_of(app: FastAPI, sid: str) -> list[Json]:
    rows = await app.state.pool.fetch(
        "SELECT channel, recipient, kind, subject, body::text AS body FROM deliveries"
        " WHERE account_sid = $1 ORDER BY channel",
        sid,
    )
    return [dict(row) for row in rows]


async def test_given_an_invoiced_account_when_its_balance_crosses_low_then_suppressed(
    app: FastAPI, http: httpx.AsyncClient, publish: Publish
) -> None:
    # given an invoiced account
    sid = new_sid()
    await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.INVOICED))
    # when its balance crosses the low threshold
    crossing = low(sid)
    await publish(BALANCE_ALERTS, crossing)
    # then the recharge reminder is suppressed, with the rule, under the invoiced mode
    [notification] = await decided(http, sid)
    assert notification["kind"] == "recharge_reminder"
    assert notification["decision"] == "suppressed"
    assert notification["reason"].startswith("prepaid_only:")
    assert notification["billing_mode"] == "invoiced"
    assert notification["trigger_event_id"] == crossing.event_id
    assert await deliveries_of(app, sid) == []


async def test_given_a_pay_as_you_go_account_when_it_crosses_low_then_sent_with_deliveries(
    app: FastAPI, http: httpx.AsyncClient, publish: Publish
) -> None:
    # given a pay-as-you-go account with an e-mail address and a webhook
    sid = new_sid()
    await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.PAY_AS_YOU_GO))
    # when its balance crosses the low threshold
    await publish(BALANCE_ALERTS, low(sid))
    # then the reminder is sent on both channels, one delivery each, with the amounts
    [notification] = await decided(http, sid)
    assert (notification["decision"], notification["billing_mode"]) == ("sent", "pay_as_you_go")
    assert notification["channels"] == ["email", "webhook"]
    deliveries = await deliveries_of(app, sid)
    assert [(d["channel"], d["recipient"]) for d in deliveries] == [
        ("email", "billing@acme.example"),
        ("webhook", "https://acme.example/hooks"),
    ]
    assert deliveries[0]["subject"] == "Your Tally balance is low: 4.40 USD"


async def test_given_a_switch_to_invoiced_committed_before_an_earlier_crossing_then_suppressed(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: Callable[[Any], Awaitable[None]]
) -> None:
    # given a pay-as-you-go account, known as such
    sid = new_sid()
    await wait_consumed(await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.PAY_AS_YOU_GO)))
    # when it is switched to invoiced, and then a crossing produced before the switch arrives
    produced_earlier = datetime.now(UTC) - timedelta(minutes=5)
    await publish(ACCOUNT_STATE, state(sid, 2, BillingMode.INVOICED))
    await publish(BALANCE_ALERTS, low(sid, occurred_at=produced_earlier))
    # then the decision uses the mode committed last, not the one the crossing saw
    [notification] = await decided(http, sid)
    assert (notification["decision"], notification["billing_mode"]) == ("suppressed", "invoiced")


async def test_given_an_unknown_account_state_then_deferred_and_decided_once_it_arrives(
    http: httpx.AsyncClient, publish: Publish
) -> None:
    # given an account whose state notifications has never seen, when its balance crosses low
    sid = new_sid()
    await publish(BALANCE_ALERTS, low(sid))
    # then the decision is deferred, saying why
    [deferred] = await eventually(lambda: notifications_of(http, sid), lambda got: len(got) == 1)
    assert deferred["decision"] == "deferred"
    assert deferred["billing_mode"] is None
    # when its state arrives, then the same decision is taken, and sent
    await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.TRIAL))
    [notification] = await decided(http, sid)
    assert notification["notification_id"] == deferred["notification_id"]
    assert (notification["decision"], notification["billing_mode"]) == ("sent", "trial")


async def test_given_a_malformed_sid_then_the_problem_names_the_field(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/accounts/AC123/notifications")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["sid"]


async def test_given_an_invoiced_account_then_the_dry_run_shows_what_each_kind_would_do(
    http: httpx.AsyncClient, publish: Publish, wait_consumed: Callable[[Any], Awaitable[None]]
) -> None:
    # given an invoiced account whose state notifications has applied, and one it never saw
    sid, unknown = new_sid(), new_sid()
    await wait_consumed(await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.INVOICED)))

    # when the policy is asked for a dry run
    async def preview(of: str) -> Json:
        response = await http.get(f"/accounts/{of}/policy")
        assert response.status_code == 200, response.text
        return dict(response.json())

    shown = await eventually(lambda: preview(sid), lambda got: got["fresh"])

    # then the five prepaid kinds would be suppressed by their rule, the others sent
    would = {kind["kind"]: kind["would"] for kind in shown["kinds"]}
    prepaid_only = {
        "recharge_reminder",
        "card_charged",
        "card_declined",
        "suspension_warning",
        "account_suspended",
    }
    assert {kind for kind, what in would.items() if what == "suppress"} == prepaid_only
    assert would["invoice_issued"] == would["credit_exposure"] == "send"
    assert (shown["billing_mode"], shown["version"]) == ("invoiced", 1)
    # and for an account never seen, everything would wait for its state
    assert {kind["would"] for kind in (await preview(unknown))["kinds"]} == {"defer"}


async def test_given_a_trigger_applied_twice_by_the_engine_then_the_second_changes_nothing(
    settings: NotificationsSettings,
) -> None:
    # given a migrated database, and a crossing of an account nobody has heard of
    record = consumed(BALANCE_ALERTS, low(new_sid()))
    end_offsets = KafkaEndOffsets(settings.kafka_bootstrap)
    deciding = Deciding(end_offsets)
    first_time, later = datetime(2026, 11, 21, 12, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    async with migrated_database(settings, MIGRATIONS) as pool:
        try:
            # when the engine applies it twice, the second time a day later
            first = await apply_batch(
                pool, deciding.decide_triggers, [record], clock=lambda: first_time
            )
            again = await apply_batch(pool, deciding.decide_triggers, [record], clock=lambda: later)
            kept = await pool.fetch("SELECT outcome, decided_at FROM decisions")
        finally:
            await end_offsets.close()

    # then one decision (deferred: the state is unknown) was taken, the first time only
    assert [d.outcome.value for d in first.result] == ["deferred"]  # type: ignore[attr-defined]
    assert again.result == []
    assert [(row["outcome"], row["decided_at"]) for row in kept] == [("deferred", first_time)]
