"""The billing-mode guard: no interleaving of a switch to invoiced and an auto-recharge charges
an invoiced account's card (docs/money.md).

Accounts is the real service; invoicing's recharge job runs against a database of its own,
fed the account's real published state, and asks accounts for its charge lease over HTTP.
The card processor records, as it charges, the account's committed billing mode.
"""

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from tally_accounts.config import Settings
from tally_contracts.accounts import AccountState
from tally_contracts.topics import ACCOUNT_STATE, USAGE_RECORDED
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing import handlers, recharge
from tally_invoicing.app import MIGRATIONS, PROJECTIONS
from tally_invoicing.charge_guard import AccountsChargeGuard, ChargeRefused
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.payments import CardAnswer, DevelopmentPaymentProvider
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import NewDatabase, consumed

from .conftest import SERVICE_TOKEN, OpenAccount, ReadKeyed

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


class WitnessProvider(DevelopmentPaymentProvider):
    """The development processor, noting the account's committed mode as each charge happens."""

    def __init__(self, accounts: httpx.AsyncClient, sid: str, hold: float) -> None:
        self.accounts, self.sid, self.hold = accounts, sid, hold
        self.modes: list[tuple[str, str]] = []

    async def _mode(self) -> str:
        return str((await self.accounts.get(f"/accounts/{self.sid}")).json()["billing_mode"])

    async def charge(
        self, *, idempotency_key: str, card_token: str, amount: Decimal, currency: str
    ) -> CardAnswer:
        before = await self._mode()
        await asyncio.sleep(self.hold)  # the processor takes its time: the switch may come now
        answer = await super().charge(
            idempotency_key=idempotency_key, card_token=card_token, amount=amount, currency=currency
        )
        self.modes.append((before, await self._mode()))
        return answer


async def paying_with_auto_recharge(
    accounts: httpx.AsyncClient, open_account: OpenAccount, card: str = "tok_visa"
) -> str:
    trial = await open_account(owner=f"owner-{uuid.uuid4().hex[:8]}")
    body = {
        "method": "pay_as_you_go",
        "address": {
            "line1": "1 Main St",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
        },
        "auto_recharge": {"threshold": "10.00", "amount": "25.00", "card_token": card},
    }
    response = await accounts.post(f"/accounts/{trial['sid']}/upgrade", json=body)
    assert response.status_code == 200, response.text
    return str(trial["sid"])


def usage(sid: str, quantity: str) -> UsageRecorded:
    return UsageRecorded(
        event_id=f"usage:{sid}:{uuid.uuid4().hex}",
        occurred_at=NOW,
        account_sid=sid,
        usage_event_id=uuid.uuid4().hex,
        category=UsageCategory.CALLS_INBOUND,
        quantity=Decimal(quantity),
        usage_occurred_at=NOW,
    )


@pytest.fixture
async def invoicing_settings(
    kafka_bootstrap: str, new_database: NewDatabase, settings: Settings
) -> InvoicingSettings:
    return InvoicingSettings(
        # Months close when a test asks (a billing run), never behind its back.
        scheduler_enabled=False,
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=await new_database("invoicing"),
        service_token=SecretStr(SERVICE_TOKEN),
        charge_lease_seconds=10,
    )


Prepare = Callable[[str], Awaitable[None]]


async def recharge_pending(pool: object, sid: str, account_states: ReadKeyed) -> None:
    """Invoicing sees the account's pay-as-you-go state, and usage depletes its balance."""
    _, state = await account_states(sid, 2)
    record = consumed(ACCOUNT_STATE, AccountState.model_validate(state))
    await apply_batch(pool, handlers.record_account_states, [record], clock=lambda: NOW)  # type: ignore[arg-type]
    drawn = consumed(USAGE_RECORDED, usage(sid, "100"))
    await apply_batch(pool, handlers.charge_usage, [drawn], clock=lambda: NOW)  # type: ignore[arg-type]


async def test_given_switches_to_invoiced_racing_recharges_then_no_invoiced_card_is_charged(
    accounts: httpx.AsyncClient,
    accounts_app: FastAPI,
    open_account: OpenAccount,
    approve_owner: Callable[[str], Awaitable[str]],
    account_states: ReadKeyed,
    invoicing_settings: InvoicingSettings,
) -> None:
    guard = AccountsChargeGuard(invoicing_settings, transport=httpx.ASGITransport(accounts_app))
    rng = random.Random(8)  # interleavings, not secrets
    outcomes: list[str] = []
    async with migrated_database(invoicing_settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        for _ in range(6):
            # given a pay-as-you-go account with auto-recharge whose balance just crossed low,
            # so a recharge is pending, and an approved invoicing request for it
            sid = await paying_with_auto_recharge(accounts, open_account)
            request_id = await approve_owner(sid)
            await recharge_pending(pool, sid, account_states)
            provider = WitnessProvider(accounts, sid, hold=rng.uniform(0, 0.3))

            # when the recharge runs while the account is switched to invoiced
            async def switch(delay: float, request_id: str = request_id) -> None:
                await asyncio.sleep(delay)
                done = await accounts.post(
                    f"/invoicing-requests/{request_id}/activation", json={"by": "ops@tally"}
                )
                assert done.status_code == 200, done.text

            ran, _ = await asyncio.gather(
                recharge.execute_pending(pool, lambda: NOW, provider=provider, guard=guard),
                switch(rng.uniform(0, 0.2)),
            )
            outcomes += ran.values()

            # then every charge the processor made, it made while the account was pay as you go
            assert all(modes == ("pay_as_you_go", "pay_as_you_go") for modes in provider.modes)
            assert len(provider.modes) == list(ran.values()).count("charged")
            # and once invoiced, the guard refuses any further charge
            assert (await accounts.get(f"/accounts/{sid}")).json()["billing_mode"] == "invoiced"
            with pytest.raises(ChargeRefused):
                await guard.lease(sid, f"after-{uuid.uuid4().hex}")
    assert set(outcomes) <= {"charged", "skipped"}


async def test_given_an_account_switched_before_its_recharge_runs_then_the_card_is_not_charged(
    accounts: httpx.AsyncClient,
    accounts_app: FastAPI,
    open_account: OpenAccount,
    approve_owner: Callable[[str], Awaitable[str]],
    account_states: ReadKeyed,
    invoicing_settings: InvoicingSettings,
) -> None:
    # given a pending recharge of an account invoicing still knows as pay as you go
    sid = await paying_with_auto_recharge(accounts, open_account)
    request_id = await approve_owner(sid)
    guard = AccountsChargeGuard(invoicing_settings, transport=httpx.ASGITransport(accounts_app))
    provider = WitnessProvider(accounts, sid, hold=0)
    async with migrated_database(invoicing_settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        await recharge_pending(pool, sid, account_states)
        # when accounts switches it to invoiced before the recharge job runs
        done = await accounts.post(
            f"/invoicing-requests/{request_id}/activation", json={"by": "ops@tally"}
        )
        assert done.status_code == 200, done.text
        ran = await recharge.execute_pending(pool, lambda: NOW, provider=provider, guard=guard)
    # then the guard refused: the recharge is skipped and the processor never asked
    assert list(ran.values()) == ["skipped"]
    assert provider.modes == []


class LaterDeclined(DevelopmentPaymentProvider):
    """The development processor, as the card's issuer declines it now (it was fine when set)."""

    async def charge(
        self, *, idempotency_key: str, card_token: str, amount: Decimal, currency: str
    ) -> CardAnswer:
        return await super().charge(
            idempotency_key=idempotency_key,
            card_token="tok_decline",
            amount=amount,
            currency=currency,
        )


async def test_given_a_declined_card_then_the_recharge_is_declined_and_the_balance_unmoved(
    accounts: httpx.AsyncClient,
    accounts_app: FastAPI,
    open_account: OpenAccount,
    account_states: ReadKeyed,
    invoicing_settings: InvoicingSettings,
) -> None:
    # given a pay-as-you-go account with auto-recharge, its balance just depleted
    sid = await paying_with_auto_recharge(accounts, open_account)
    guard = AccountsChargeGuard(invoicing_settings, transport=httpx.ASGITransport(accounts_app))
    async with migrated_database(invoicing_settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        await recharge_pending(pool, sid, account_states)

        # when the recharge job runs twice, and the issuer declines the card
        first = await recharge.execute_pending(
            pool, lambda: NOW, provider=LaterDeclined(), guard=guard
        )
        again = await recharge.execute_pending(
            pool, lambda: NOW, provider=LaterDeclined(), guard=guard
        )

        # then it was declined once, the balance did not move, and one decline was published
        async with pool.acquire() as conn:
            balance = await conn.fetchval(
                "SELECT balance FROM balances WHERE account_sid = $1", sid
            )
            payloads = [row["payload"] for row in await conn.fetch("SELECT payload FROM outbox")]
    assert list(first.values()) == ["declined"]
    assert again == {}
    assert balance == Decimal("-0.85")
    assert sum(b'"type":"card.declined"' in payload for payload in payloads) == 1


async def test_given_an_approved_recharge_then_the_balance_is_topped_up_once(
    accounts: httpx.AsyncClient,
    accounts_app: FastAPI,
    open_account: OpenAccount,
    account_states: ReadKeyed,
    invoicing_settings: InvoicingSettings,
) -> None:
    # given a pay-as-you-go account with auto-recharge of 25.00, its balance just depleted
    sid = await paying_with_auto_recharge(accounts, open_account)
    guard = AccountsChargeGuard(invoicing_settings, transport=httpx.ASGITransport(accounts_app))
    provider = DevelopmentPaymentProvider()
    async with migrated_database(invoicing_settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        await recharge_pending(pool, sid, account_states)

        # when two replicas run the job at once
        both = await asyncio.gather(
            recharge.execute_pending(pool, lambda: NOW, provider=provider, guard=guard),
            recharge.execute_pending(pool, lambda: NOW, provider=provider, guard=guard),
        )

        # then the card was charged and the balance credited once: -0.85 + 25.00
        async with pool.acquire() as conn:
            balance = await conn.fetchval(
                "SELECT balance FROM balances WHERE account_sid = $1", sid
            )
            payloads = [row["payload"] for row in await conn.fetch("SELECT payload FROM outbox")]
    assert "charged" in [o for run in both for o in run.values()]
    assert balance == Decimal("24.15")
    assert sum(b'"type":"card.charged"' in payload for payload in payloads) == 1
