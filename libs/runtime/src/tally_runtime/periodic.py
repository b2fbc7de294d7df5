"""Jobs a service runs by itself every so often (nightly snapshots, suspension timers).

Every replica runs every job: a job must be safe to run at once in several processes, which
it gets from the database (a unique key per account and period, or a row lock), never from
being the only one. So the schedule needs no leader and no scheduler library: a loop that
sleeps `every` between runs is all it takes, and a run that fails is logged and retried at the
next tick.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from tally_runtime.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A job run every `every`, first soon after the service starts."""

    name: str
    every: timedelta
    run: Callable[[asyncpg.Pool, Clock], Awaitable[object]]


async def run_periodically(job: Periodic, pool: asyncpg.Pool, clock: Clock) -> None:
    """Run `job` forever, `job.every` apart; a failed run waits for the next tick."""
    while True:
        try:
            await job.run(pool, clock)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic job %s failed; it runs again in %s", job.name, job.every)
        await asyncio.sleep(job.every.total_seconds())
