"""Waiting for what happens asynchronously: a consumer, a relay, another process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.2


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], within: float = 30.0
) -> T:
    """Poll ``probe`` until ``until(result)`` holds and return that result.

    Fails with the last result once ``within`` seconds have passed; the deadline is checked
    after each probe, so the probe always runs at least once.
    """
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {within} s; last result: {result!r}")
        await asyncio.sleep(POLL_SECONDS)
