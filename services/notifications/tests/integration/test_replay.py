"""Every trigger published twice: one decision each, one delivery per recipient, never two."""

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel
from tally_contracts.accounts import (
    AccountReactivated,
    AccountSuspended,
    AccountUpgraded,
    BillingMode,
    SuspensionReason,
)
from tally_contracts.balances import (
    BalanceCrossed,
    BalanceCrossing,
    CardCharged,
    CardDeclined,
    ExposureCrossed,
)
from tally_contracts.invoices import InvoiceIssued, InvoiceOverdue
from tally_contracts.invoicing_requests import InvoicingRequestInformationRequested
from tally_contracts.topics import (
    ACCOUNT_LIFECYCLE,
    ACCOUNT_STATE,
    BALANCE_ALERTS,
    INVOICE_EVENTS,
    INVOICING_REQUESTS,
)
from tally_testkit import Publish, eventually, new_sid

from .test_decisions import notifications_of, state

NOW = datetime.now(UTC)


def every_trigger(sid: str) -> list[tuple[str, BaseModel]]:
    """One fact of each trigger type for `sid` (a pay-as-you-go account at version 1)."""
    envelope = {"occurred_at": NOW, "account_sid": sid}
    return [
        (
            BALANCE_ALERTS,
            BalanceCrossed(
                event_id=f"low:{sid}",
                crossing=BalanceCrossing.LOW,
                balance=Decimal("4.4"),
                threshold=Decimal(10),
                auto_recharge=False,
                **envelope,
            ),
        ),
        (
            BALANCE_ALERTS,
            BalanceCrossed(
                event_id=f"depleted:{sid}",
                crossing=BalanceCrossing.DEPLETED,
                balance=Decimal("-0.1"),
                threshold=Decimal(10),
                auto_recharge=False,
                **envelope,
            ),
        ),
        (
            BALANCE_ALERTS,
            CardCharged(
                event_id=f"charged:{sid}",
                recharge_id="RC1",
                amount=Decimal(20),
                balance=Decimal(24),
                **envelope,
            ),
        ),
        (
            BALANCE_ALERTS,
            CardDeclined(
                event_id=f"declined:{sid}",
                recharge_id="RC2",
                amount=Decimal(20),
                reason="insufficient funds",
                **envelope,
            ),
        ),
        (
            BALANCE_ALERTS,
            ExposureCrossed(
                event_id=f"exposure:{sid}",
                percent=80,
                exposure=Decimal(800),
                credit_limit=Decimal(1000),
                **envelope,
            ),
        ),
        (
            ACCOUNT_LIFECYCLE,
            AccountSuspended(
                event_id=f"suspended:{sid}",
                version=1,
                reason=SuspensionReason.BALANCE_DEPLETED,
                **envelope,
            ),
        ),
        (
            ACCOUNT_LIFECYCLE,
            AccountReactivated(event_id=f"reactivated:{sid}", version=1, **envelope),
        ),
        (
            ACCOUNT_LIFECYCLE,
            AccountUpgraded(
                event_id=f"upgraded:{sid}",
                version=1,
                billing_mode=BillingMode.PAY_AS_YOU_GO,
                **envelope,
            ),
        ),
        (
            INVOICING_REQUESTS,
            InvoicingRequestInformationRequested(
                event_id=f"info:{sid}",
                request_id="IR1",
                contact_email="cfo@acme.example",
                items=["last year's accounts"],
                requested_by="ops@tally.example",
                **envelope,
            ),
        ),
        (
            INVOICE_EVENTS,
            InvoiceIssued(
                event_id=f"issued:{sid}",
                invoice_id="IN1",
                period="2026-10@America/Chicago",
                billing_mode="pay_as_you_go",
                total=Decimal(12),
                amount_due=Decimal(0),
                due_date=None,
                no_balance_due=True,
                **envelope,
            ),
        ),
        (
            INVOICE_EVENTS,
            InvoiceOverdue(
                event_id=f"overdue:{sid}",
                invoice_id="IN0",
                period="2026-09@America/Chicago",
                amount_due=Decimal(12),
                due_date=date(2026, 11, 1),
                **envelope,
            ),
        ),
    ]


async def test_given_every_trigger_published_twice_then_one_decision_and_no_new_delivery(
    app: FastAPI,
    http: httpx.AsyncClient,
    publish: Publish,
    wait_consumed: Callable[[Any], Awaitable[None]],
) -> None:
    # given a pay-as-you-go account, and one fact of every trigger type about it, decided
    sid = new_sid()
    await publish(ACCOUNT_STATE, state(sid, 1, BillingMode.PAY_AS_YOU_GO))
    triggers = every_trigger(sid)
    for topic, event in triggers:
        await publish(topic, event)  # type: ignore[arg-type]
    first = await eventually(
        lambda: notifications_of(http, sid),
        lambda got: len(got) == len(triggers) and all(d["decision"] != "deferred" for d in got),
    )
    deliveries = await count_deliveries(app, sid)

    # when every one is published again (a replay) and consumed
    last_of_topic = {}
    for topic, event in triggers:
        last_of_topic[topic] = await publish(topic, event)  # type: ignore[arg-type]
    for sent in last_of_topic.values():
        await wait_consumed(sent)

    # then the replay decided nothing: the same decisions, taken when they were, no new delivery
    assert await notifications_of(http, sid) == first
    assert await count_deliveries(app, sid) == deliveries
    kinds = {d["kind"]: d["decision"] for d in first}
    assert kinds["recharge_reminder"] == "sent"
    assert kinds["account_suspended"] == "suppressed"  # the account is active again now
    assert kinds["credit_exposure"] == "suppressed"  # a prepaid account has no credit limit
    assert deliveries == sum(len(d["channels"]) for d in first if d["decision"] == "sent")


async def count_deliveries(app: FastAPI, sid: str) -> int:
    count: int = await app.state.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE account_sid = $1", sid
    )
    return count
