# asyncpg and docker ship no type information.
# mypy: disable-error-code="import-untyped"
"""Pytest plugin (entry point ``tally``): a real Kafka and PostgreSQL for integration tests.

Where each comes from, first match wins:

1. ``KAFKA_BOOTSTRAP`` / ``DATABASE_URL`` in the environment (``make test`` starts local
   servers with ``scripts/infra.sh up`` and exports them);
2. a testcontainers container, when a Docker engine answers;
3. otherwise the test fails and says what is missing. It never skips: a skipped
   integration test reads like a passing one.

The Kafka fixtures built on the broker (``producer``, ``publish``, ``tail``,
``consumer_group``) live in ``tally_testkit.kafka``, registered below with this plugin.

Every consumer group a test starts is moved to the end of the topics when the test is done
with it: the ``consumer_group`` fixture's names, and the group of any fixture whose value is a
service's settings (``ServiceSettings``) on the test broker, once that fixture is torn down
(after the app built on it has stopped). A group that existed before the fixture made its
settings is not the test's, and is left alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
import pytest
from tally_contracts.topics import ALL_TOPICS
from tally_runtime.database import with_database
from tally_runtime.kafka import ensure_topics
from tally_runtime.settings import ServiceSettings

from tally_testkit.kafka import group_exists, move_groups_to_end

pytest_plugins = ["tally_testkit.kafka"]

T = TypeVar("T")

NewDatabase = Callable[[str], Awaitable[str]]
"""The ``new_database`` factory: ``await new_database("usage")`` -> URL of a new database."""

_HOW_TO_START = (
    "`make test` starts a local broker and PostgreSQL (scripts/infra.sh up) and exports "
    "KAFKA_BOOTSTRAP and DATABASE_URL; by hand: "
    'bash scripts/infra.sh up && eval "$(bash scripts/infra.sh env)"'
)


def _docker_problem() -> str | None:
    """Return None if a Docker engine answers, else why it does not."""
    try:
        import docker

        client = docker.from_env()
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # no SDK, no socket, no daemon: all mean "no Docker"
        return f"{type(exc).__name__}: {exc}"
    return None


def _unavailable(what: str, variable: str, docker_problem: str) -> str:
    return (
        f"{what} is not available: {variable} is not set and testcontainers found no Docker "
        f"engine ({docker_problem}). {_HOW_TO_START}"
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address (``host:port``) of a running Kafka broker."""
    if address := os.environ.get("KAFKA_BOOTSTRAP"):
        yield _with_topics(address)
        return
    if problem := _docker_problem():
        pytest.fail(_unavailable("Kafka", "KAFKA_BOOTSTRAP", problem), pytrace=False)
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        yield _with_topics(kafka.get_bootstrap_server())


def _with_topics(address: str) -> str:
    # The broker creates no topic on first use, so create them all as a service would.
    asyncio.run(ensure_topics(ServiceSettings(kafka_bootstrap=address), ALL_TOPICS))
    _test_brokers.add(address)
    return address


_test_brokers: set[str] = set()
"""Addresses ``kafka_bootstrap`` handed out: the only brokers whose groups the hooks touch."""

_not_ours: set[tuple[str, str]] = set()
"""(broker, group) of settings fixtures whose group existed before the fixture ran."""


def _tested_group(value: object) -> tuple[str, str] | None:
    """(broker, group) when ``value`` is a service's settings on the test broker."""
    if isinstance(value, ServiceSettings) and value.kafka_bootstrap in _test_brokers:
        return value.kafka_bootstrap, value.consumer_group
    return None


def _aside(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to completion on a loop of its own, in a thread of its own.

    Hooks run between the tests' event loop's turns, or even within one (a fixture requested
    from an async test): a private loop in another thread disturbs neither.
    """
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Note a settings fixture's group that already exists: it is not the test's to move."""
    value = yield
    if (found := _tested_group(value)) and _aside(group_exists(*found)):
        _not_ours.add(found)
    return value


def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    """Move a settings fixture's consumer group to the end of the topics once it is torn down."""
    cached = fixturedef.cached_result
    if cached is None or cached[2] is not None:
        return
    found = _tested_group(cached[0])
    if found is None or found in _not_ours:
        return
    broker, group = found
    try:
        _aside(move_groups_to_end(broker, [group]))
    except Exception as exc:  # teardown must not fail a passed test; say what is left
        warnings.warn(f"consumer group {group} left where it was: {exc}", stacklevel=1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Server-level URL (database ``postgres``) of a PostgreSQL where tests may create databases."""
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if problem := _docker_problem():
        pytest.fail(_unavailable("PostgreSQL", "DATABASE_URL", problem), pytrace=False)
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        "postgres:15",
        username="tally",
        password="tally",  # noqa: S106 -- a throwaway container on this machine
        dbname="postgres",
        driver=None,
    )
    with container as postgres:
        yield postgres.get_connection_url()


async def _execute(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _drop_all(server_url: str, names: list[str]) -> list[str]:
    """Drop the databases; return the errors (teardown must not fail a passed session)."""
    errors = []
    for name in names:
        try:
            # FORCE: a pool a test forgot to close must not keep its database alive.
            await _execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return errors


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Iterator[NewDatabase]:
    """Factory of empty databases: ``await new_database("usage")`` -> its URL.

    Names are unique (``test_usage_<hex>``), so tests and parallel runs never share state.
    All are dropped when the session ends.
    """
    created: list[str] = []

    async def create(label: str) -> str:
        slug = re.sub(r"[^a-z0-9_]+", "_", label.lower()).strip("_")[:30] or "db"
        name = f"test_{slug}_{uuid.uuid4().hex[:12]}"
        await _execute(postgres_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(postgres_url, name)

    yield create

    if created:
        # The tests' event loop may already be closed, and must not be replaced: use a private one.
        loop = asyncio.new_event_loop()
        try:
            errors = loop.run_until_complete(_drop_all(postgres_url, created))
        finally:
            loop.close()
        if errors:
            warnings.warn("test databases left behind: " + "; ".join(errors), stacklevel=1)
