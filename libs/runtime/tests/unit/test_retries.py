"""Transient failures are retried with backoff; a real bug surfaces at once."""

import asyncpg
import pytest
from tally_runtime.retries import with_backoff


async def test_given_the_database_away_twice_then_the_third_try_succeeds() -> None:
    attempts = 0

    @with_backoff(give_up_after=10)
    async def write() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        return "committed"

    assert await write() == "committed"
    assert attempts == 3


async def test_given_a_programming_error_then_it_is_raised_without_retrying() -> None:
    attempts = 0

    @with_backoff(give_up_after=10)
    async def write() -> None:
        nonlocal attempts
        attempts += 1
        raise KeyError("charge_id")

    with pytest.raises(KeyError):
        await write()
    assert attempts == 1


async def test_given_a_lasting_failure_then_its_error_is_raised_after_the_deadline() -> None:
    @with_backoff(give_up_after=0.3)
    async def connect() -> None:
        raise ConnectionRefusedError("broker down")

    with pytest.raises(ConnectionRefusedError):
        await connect()
