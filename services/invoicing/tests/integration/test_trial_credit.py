"""A trial account is credited 15.00 once, the first time invoicing sees it as trial."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

from tally_contracts.accounts import BillingMode
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_CHANGED
from tally_invoicing import handlers
from tally_invoicing.app import MIGRATIONS, PROJECTIONS
from tally_invoicing.config import InvoicingSettings
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import migrated_database
from tally_testkit import account_state, consumed, new_sid

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def test_given_account_states_applied_twice_then_only_the_new_trial_is_credited_once(
    settings: InvoicingSettings,
) -> None:
    # given a trial account, a pay-as-you-go one, and an invoiced one invoicing has not seen
    trial, paid, invoiced = new_sid(), new_sid(), new_sid()
    records = [
        consumed(ACCOUNT_STATE, account_state(trial, 1, BillingMode.TRIAL), offset=0),
        consumed(ACCOUNT_STATE, account_state(paid, 1, BillingMode.PAY_AS_YOU_GO), offset=1),
        consumed(ACCOUNT_STATE, account_state(invoiced, 1, BillingMode.INVOICED), offset=2),
    ]
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        # when the handler applies their states twice, as a redelivered batch would
        first = await apply_batch(pool, handlers.record_account_states, records, clock=lambda: NOW)
        again = await apply_batch(pool, handlers.record_account_states, records, clock=lambda: NOW)

        # then the trial account alone was credited, by the first application only
        [credit] = cast(list[BalanceChanged], first.result)
        assert (credit.account_sid, credit.cause, credit.amount, credit.balance) == (
            trial,
            "trial_credit",
            Decimal("15.00"),
            Decimal("15.00"),
        )
        assert (again.result, again.published) == ([], 0)
        balances = {
            sid: (await handlers.current_balance(sid, pool=pool)).amount
            for sid in (trial, paid, invoiced)
        }
        assert balances == {trial: Decimal(15), paid: Decimal(0), invoiced: Decimal(0)}
        async with pool.acquire() as conn:
            queued = await conn.fetch("SELECT topic, key FROM outbox")
            versions = await conn.fetch("SELECT account_sid FROM known_accounts")
        assert [(row["topic"], row["key"]) for row in queued] == [(BALANCE_CHANGED, trial)]
        # and the shared projection of account states was kept as before
        assert {row["account_sid"] for row in versions} == {trial, paid, invoiced}
