"""Replaying rated usage changes no balance; an invoiced account's exposure alerts once each."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from tally_contracts.accounts import AccountState, BillingMode, InvoicingTerms
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS, USAGE_RECORDED
from tally_contracts.usage import UsageCategory, UsageRecorded
from tally_invoicing import handlers
from tally_invoicing.app import MIGRATIONS, PROJECTIONS
from tally_invoicing.config import InvoicingSettings
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import account_state, consumed, new_sid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def usage(sid: str, n: int, quantity: str, category: str = "calls-outbound") -> UsageRecorded:
    return UsageRecorded(
        event_id=f"usage:{sid}:u{n}",
        occurred_at=NOW,
        account_sid=sid,
        usage_event_id=f"u{n}",
        category=UsageCategory(category),
        quantity=Decimal(quantity),
        usage_occurred_at=NOW,
    )


def invoiced(sid: str, credit_limit: str) -> AccountState:
    terms = InvoicingTerms(
        request_id="IR1",
        rates={"sms-outbound": Decimal("0.0050")},
        net_terms_days=30,
        credit_limit=Decimal(credit_limit),
    )
    state = account_state(sid, 1, BillingMode.INVOICED)
    return state.model_copy(update={"terms": terms})


async def snapshot(pool: asyncpg.Pool) -> tuple[object, ...]:
    async with pool.acquire() as conn:
        balances = await conn.fetch("SELECT account_sid, balance FROM balances ORDER BY 1")
        entries = await conn.fetchval("SELECT count(*) FROM ledger_entries")
        charges = await conn.fetch("SELECT charge_id, amount FROM charges ORDER BY 1")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    return [tuple(r) for r in balances], entries, [tuple(r) for r in charges], outbox


async def test_given_usage_batches_applied_again_from_the_start_then_nothing_changes(
    settings: InvoicingSettings,
) -> None:
    # given a trial account and an invoiced one, and a month of their usage across the tier
    trial, postpaid = new_sid(), new_sid()
    states = [
        consumed(ACCOUNT_STATE, account_state(trial, 1, BillingMode.TRIAL)),
        consumed(ACCOUNT_STATE, invoiced(postpaid, "1000000")),
    ]
    batches = [
        [consumed(USAGE_RECORDED, usage(sid, n, q), offset=n) for sid in (trial, postpaid)]
        for n, q in enumerate(["6000", "6000", "0.5"])
    ]
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        await apply_batch(pool, handlers.record_account_states, states, clock=lambda: NOW)
        for batch in batches:
            await apply_batch(pool, handlers.charge_usage, batch, clock=lambda: NOW)
        before = await snapshot(pool)

        # when every batch is applied again, as a replay from offset 0 would
        for batch in [states, *batches]:
            handler = handlers.record_account_states if batch is states else handlers.charge_usage
            again = await apply_batch(pool, handler, batch, clock=lambda: NOW)
            assert again.published == 0

        # then no balance, entry, charge or event changed
        assert await snapshot(pool) == before
        # and the month's charges are the §2 price of 12,000.5 minutes: 10,000 x 0.0140 +
        # 2,000.5 x 0.0130 = 166.0065, the trial's drawn from its 15.00 credit
        balances, _, charges, _ = before
        assert dict(balances) == {trial: Decimal("15") - Decimal("166.0065"), postpaid: 0}
        assert sum(amount for _, amount in charges) == 2 * Decimal("166.0065")


async def test_given_an_invoiced_account_then_its_exposure_crosses_80_and_100_percent_once(
    settings: InvoicingSettings,
) -> None:
    # given an invoiced account with a credit limit of 10.00 and negotiated SMS at 0.0050
    sid = new_sid()
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        state = consumed(ACCOUNT_STATE, invoiced(sid, "10"))
        await apply_batch(pool, handlers.record_account_states, [state], clock=lambda: NOW)

        # when its unbilled usage grows to 7.50, 8.50, 9.50, 10.50 and 12.00
        for n, messages in enumerate(["1500", "200", "200", "200", "300"]):
            record = consumed(USAGE_RECORDED, usage(sid, n, messages, "sms-outbound"), offset=n)
            await apply_batch(pool, handlers.charge_usage, [record], clock=lambda: NOW)

        # then 80 % and 100 % were each alerted once, and no balance was drawn
        async with pool.acquire() as conn:
            alerts = [
                json.loads(row["payload"])
                for row in await conn.fetch(
                    "SELECT payload FROM outbox WHERE topic = $1 ORDER BY id", BALANCE_ALERTS
                )
            ]
            balance = await conn.fetchval(
                "SELECT balance FROM balances WHERE account_sid = $1", sid
            )
    assert [(a["type"], a["percent"], Decimal(a["exposure"])) for a in alerts] == [
        ("exposure.crossed", 80, Decimal("8.5")),
        ("exposure.crossed", 100, Decimal("10.5")),
    ]
    assert balance == 0
