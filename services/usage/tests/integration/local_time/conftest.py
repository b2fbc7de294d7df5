"""A migrated database of its own for each write-path test, and the handlers over it."""

from collections.abc import AsyncIterator

import pytest
from tally_runtime.lifecycle import migrated_database
from tally_testkit import NewDatabase
from tally_usage.app import MIGRATIONS, PROJECTIONS
from tally_usage.config import UsageSettings

from services.usage.tests.integration.local_time.write_path import WritePath


@pytest.fixture
async def write_path(new_database: NewDatabase) -> AsyncIterator[WritePath]:
    settings = UsageSettings(database_url=await new_database("usage_local_time"))
    async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
        yield WritePath(pool)
