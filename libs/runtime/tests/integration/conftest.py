"""A service of the tests' own: a database with the runtime's schema, a topic, a fresh group."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.database import apply_migrations
from tally_runtime.settings import ServiceSettings
from tally_testkit import NewDatabase

APPLIED_TABLE = """
CREATE TABLE applied (
    value     text PRIMARY KEY,
    key       text,
    partition integer NOT NULL,
    position  bigint  NOT NULL
);
"""


@pytest.fixture
async def scratch_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic of this test's own (2 partitions), deleted afterwards."""
    name = f"test.scratch.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture
async def settings(
    new_database: NewDatabase, kafka_bootstrap: str, tmp_path: Path, scratch_topic: str
) -> AsyncIterator[ServiceSettings]:
    """The runtime's schema, the account-state projection and an `applied` table for handlers."""
    url = await new_database("runtime")
    (tmp_path / "0001.applied.sql").write_text(APPLIED_TABLE)
    # The account-state projection too: its `0000.*` file and the runtime's are applied side
    # by side, told apart by their full names.
    await apply_migrations(url, tmp_path, projections=[ACCOUNT_STATE_MIGRATIONS])
    # Its group reads only the scratch topic, deleted with the test: nothing to move on after.
    yield ServiceSettings(
        environment="test",
        kafka_bootstrap=kafka_bootstrap,
        database_url=url,
        consumer_group=f"test-runtime-{uuid.uuid4().hex}",
        batch_max_wait_ms=50,
        service_token=SecretStr("runtime-tests-service-token"),
    )


@pytest.fixture
async def pool(settings: ServiceSettings) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(settings.database_url) as opened:
        yield opened
