"""Suspension for balance: invoicing's balance facts, the grace period on a clock the test
moves, reactivation after a top-up; never an invoiced account."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from tally_accounts.config import Settings
from tally_accounts.suspension import record_balances
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.consumer import apply_batch
from tally_testkit import Publish, consumed, eventually, wait_committed

ReadKeyed = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
OpenAccount = Callable[..., Awaitable[dict[str, Any]]]


def balance_fact(sid: str, balance: str, at: datetime, n: int = 1) -> BalanceChanged:
    """A charge that left the balance at `balance`, as invoicing publishes it."""
    return BalanceChanged(
        event_id=f"charge:{sid}:{n}",
        occurred_at=at,
        account_sid=sid,
        charge_id=f"{sid}:{n}",
        usage_event_id=f"u{n}",
        amount=Decimal("1.00"),
        balance=Decimal(balance),
    )


async def status_of(accounts: httpx.AsyncClient, sid: str) -> str:
    return str((await accounts.get(f"/accounts/{sid}")).json()["status"])


async def test_given_a_depleted_balance_then_suspended_past_the_grace_period_only(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    publish: Publish,
    settings: Settings,
    kafka_bootstrap: str,
    clock: Any,
    account_states: ReadKeyed,
    lifecycle_events: ReadKeyed,
) -> None:
    early, late = await open_account(), await open_account()
    start = clock()
    # given one account depleted now and another two hours later
    await publish(BALANCE_CHANGED, balance_fact(early["sid"], "0", start))
    sent = await publish(
        BALANCE_CHANGED, balance_fact(late["sid"], "-0.40", start + timedelta(hours=2))
    )
    await wait_committed(kafka_bootstrap, settings.consumer_group, sent)

    # when 73 hours have passed since the first
    clock.advance(timedelta(hours=73))

    # then the first is suspended, and in that same run the second, 71 hours in, was not
    await eventually(lambda: status_of(accounts, early["sid"]), lambda s: s == "suspended")
    assert await status_of(accounts, late["sid"]) == "active"
    _, state = await account_states(early["sid"], 2)
    assert (state["version"], state["status"], state["suspended_for_balance"]) == (
        2,
        "suspended",
        True,
    )
    [suspended] = await lifecycle_events(early["sid"], 1)
    assert (suspended["type"], suspended["reason"]) == ("accounts.suspended", "balance_depleted")
    clock.advance(timedelta(hours=2))
    await eventually(lambda: status_of(accounts, late["sid"]), lambda s: s == "suspended")


async def test_given_a_suspended_account_when_a_top_up_makes_it_positive_then_reactivated(
    accounts: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    open_account: OpenAccount,
    publish: Publish,
    clock: Any,
    lifecycle_events: ReadKeyed,
) -> None:
    account = await open_account()
    sid = account["sid"]
    # given invoicing granted the trial credit, then a charge left the balance below zero: on
    # invoicing's own (real) clock, since the top-up below is dated by it too
    await eventually(
        lambda: invoicing.get(f"/accounts/{sid}/balance"), lambda r: r.json()["balance"] == "15.00"
    )
    await publish(BALANCE_CHANGED, balance_fact(sid, "-1.00", datetime.now(UTC)))
    clock.advance(timedelta(hours=80))
    await eventually(lambda: status_of(accounts, sid), lambda s: s == "suspended")

    # when the customer tops up through invoicing (which publishes the new balance)
    topped = await invoicing.post(
        f"/accounts/{sid}/top-ups",
        json={"top_up_id": f"test-{sid}", "amount": "30.00", "card_token": "tok_visa"},
    )
    assert topped.status_code == 201, topped.text

    # then the account is active again
    await eventually(lambda: status_of(accounts, sid), lambda s: s == "active")
    suspended, reactivated = await lifecycle_events(sid, 2)
    assert (suspended["type"], reactivated["type"]) == (
        "accounts.suspended",
        "accounts.reactivated",
    )
    assert reactivated["version"] == 3


async def test_given_an_invoiced_account_then_it_is_never_suspended_for_its_balance(
    accounts: httpx.AsyncClient,
    open_account: OpenAccount,
    approve_owner: Callable[[str], Awaitable[str]],
    publish: Publish,
    clock: Any,
) -> None:
    first = await open_account(
        address={"line1": "1 Main", "city": "Chicago", "postal_code": "60601", "country": "US"}
    )
    await approve_owner(first["sid"])
    invoiced = await open_account()
    [address] = (await accounts.get(f"/accounts/{invoiced['sid']}/upgrade")).json()["addresses"]
    upgraded = await accounts.post(
        f"/accounts/{invoiced['sid']}/upgrade",
        json={"method": "pay_by_invoice", "address_id": address["address_id"]},
    )
    assert upgraded.json()["billing_mode"] == "invoiced"
    trial = await open_account()
    await publish(BALANCE_CHANGED, balance_fact(invoiced["sid"], "-500.00", clock()))
    await publish(BALANCE_CHANGED, balance_fact(trial["sid"], "-500.00", clock()))

    clock.advance(timedelta(days=30))

    # the trial one is suspended; the same run left the invoiced one active
    await eventually(lambda: status_of(accounts, trial["sid"]), lambda s: s == "suspended")
    assert await status_of(accounts, invoiced["sid"]) == "active"


async def test_given_the_same_balance_batch_twice_then_the_second_changes_nothing(
    open_account: OpenAccount, settings: Settings, clock: Any
) -> None:
    sid = (await open_account())["sid"]
    records = [
        consumed(BALANCE_CHANGED, balance_fact(sid, "0", clock(), 1), offset=1),
        consumed(
            BALANCE_CHANGED, balance_fact(sid, "-2", clock() + timedelta(minutes=5), 2), offset=2
        ),
    ]
    async with asyncpg.create_pool(settings.database_url) as pool:
        await apply_batch(pool, record_balances, records, clock=clock)
        once = await pool.fetchrow("SELECT * FROM accounts WHERE sid = $1", sid)
        await apply_batch(pool, record_balances, records, clock=clock)
        twice = await pool.fetchrow("SELECT * FROM accounts WHERE sid = $1", sid)
        # an older fact delivered late does not restart or end the grace period
        late = [consumed(BALANCE_CHANGED, balance_fact(sid, "10", clock() - timedelta(hours=1), 0))]
        await apply_batch(pool, record_balances, late, clock=clock)
        after_late = await pool.fetchrow("SELECT * FROM accounts WHERE sid = $1", sid)
    assert once["balance_depleted_since"] == clock()
    assert twice == once == after_late
