"""The account-state projection against real PostgreSQL and Kafka: the newest version wins."""

import asyncpg
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.account_states import (
    ACCOUNT_STATES,
    KnownAccount,
    known_account,
    record_account_states,
)
from tally_runtime.clock import utc_now
from tally_runtime.consumer import apply_batch
from tally_runtime.lifecycle import running_engine
from tally_runtime.settings import ServiceSettings
from tally_testkit import (
    Publish,
    account_state,
    commit_groups_at_end,
    consumed,
    new_sid,
    wait_committed,
)


async def test_given_version_2_then_1_then_2_again_published_then_the_first_version_2_is_kept(
    settings: ServiceSettings, pool: asyncpg.Pool, publish: Publish
) -> None:
    # given the engine consuming the account states, its group after the topic's backlog
    await commit_groups_at_end(settings.kafka_bootstrap, [settings.consumer_group], [ACCOUNT_STATE])
    sid = new_sid()
    async with running_engine("account-states-test", settings, pool, [ACCOUNT_STATES]):
        # when version 2 arrives, then the older version 1, then version 2 again with other content
        await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.INVOICED))
        await publish(ACCOUNT_STATE, account_state(sid, 1, BillingMode.TRIAL))
        last = await publish(ACCOUNT_STATE, account_state(sid, 2, BillingMode.PAY_AS_YOU_GO))
        await wait_committed(settings.kafka_bootstrap, settings.consumer_group, last)

    # then the first version 2 is the one known
    assert await known_account(pool, sid) == KnownAccount(
        account_sid=sid,
        version=2,
        billing_mode=BillingMode.INVOICED,
        status=AccountStatus.ACTIVE,
        time_zone="America/Chicago",
    )


async def test_given_a_state_recorded_then_a_repeat_or_an_older_one_changes_nothing(
    pool: asyncpg.Pool,
) -> None:
    sid = new_sid()
    newest = consumed(ACCOUNT_STATE, account_state(sid, 3, BillingMode.PAY_AS_YOU_GO))
    await apply_batch(pool, record_account_states, [newest], clock=utc_now)
    kept = await pool.fetchrow("SELECT * FROM known_accounts WHERE account_sid = $1", sid)

    older = consumed(ACCOUNT_STATE, account_state(sid, 2, BillingMode.TRIAL))
    await apply_batch(pool, record_account_states, [newest, older], clock=utc_now)

    # not even its timestamps moved
    assert await pool.fetchrow("SELECT * FROM known_accounts WHERE account_sid = $1", sid) == kept


async def test_given_an_account_never_seen_then_it_is_not_known(pool: asyncpg.Pool) -> None:
    assert await known_account(pool, new_sid()) is None
