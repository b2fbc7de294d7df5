"""The account-state projection against real PostgreSQL and Kafka: the newest version wins."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.account_states import (
    ACCOUNT_STATE_MIGRATIONS,
    KnownAccount,
    known_account,
    record_account_state,
    subscribe_account_states,
)
from tally_runtime.database import apply_migrations
from tally_runtime.lifecycle import running_broker
from tally_runtime.settings import ServiceSettings
from tally_testkit import (
    NewDatabase,
    Publish,
    account_state,
    commit_groups_at_end,
    new_sid,
    wait_committed,
)


@pytest.fixture
async def settings(
    new_database: NewDatabase, kafka_bootstrap: str, tmp_path: Path
) -> ServiceSettings:
    """A service of its own: a database with the projection applied, a fresh consumer group."""
    url = await new_database("account_states")
    # No service migrations (an empty folder); the runtime's and the projection's `0000.*`
    # files are applied side by side, told apart by their full names.
    await apply_migrations(url, tmp_path, projections=[ACCOUNT_STATE_MIGRATIONS])
    return ServiceSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=url,
        consumer_group=f"test-account-states-{uuid.uuid4().hex}",
    )


@pytest.fixture
async def pool(settings: ServiceSettings) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(settings.database_url) as opened:
        yield opened


async def test_given_version_2_then_1_then_2_again_published_then_the_first_version_2_is_kept(
    settings: ServiceSettings, pool: asyncpg.Pool, publish: Publish
) -> None:
    # given a subscribed broker whose group starts after the topic's backlog
    await commit_groups_at_end(settings.kafka_bootstrap, [settings.consumer_group], [ACCOUNT_STATE])
    broker = KafkaBroker(settings.kafka_bootstrap)
    subscribe_account_states(broker, settings, pool)
    sid = new_sid()
    async with running_broker(settings, broker):
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
    state = account_state(sid, 3, BillingMode.PAY_AS_YOU_GO)
    assert await record_account_state(state, pool=pool) is True
    kept = await pool.fetchrow("SELECT * FROM known_accounts WHERE account_sid = $1", sid)

    assert await record_account_state(state, pool=pool) is False
    assert await record_account_state(account_state(sid, 2, BillingMode.TRIAL), pool=pool) is False

    # not even its timestamps moved
    assert await pool.fetchrow("SELECT * FROM known_accounts WHERE account_sid = $1", sid) == kept


async def test_given_an_account_never_seen_then_it_is_not_known(pool: asyncpg.Pool) -> None:
    assert await known_account(pool, new_sid()) is None
