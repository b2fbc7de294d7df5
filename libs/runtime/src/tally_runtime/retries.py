"""Backoff for failures that pass by themselves: a broker or database restarting, a deadlock."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    KafkaConnectionError,
    NodeNotReadyError,
    asyncpg.InterfaceError,  # the connection went away under us
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # the server is starting up
    asyncpg.OperatorInterventionError,  # the server is shutting down
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)
"""Errors worth retrying as they are: nothing about the input was wrong."""


def with_backoff(
    give_up_after: float,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Retry a coroutine function on transient errors, backing off up to 5 s between tries.

    After `give_up_after` seconds the last error is raised as it was.
    """
    return retry(
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        wait=wait_exponential_jitter(multiplier=0.1, max=5, jitter=0.1),
        stop=stop_after_delay(give_up_after),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
