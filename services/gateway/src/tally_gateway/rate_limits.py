"""Per-caller rate limits: past its limit, a caller is answered `429` with `Retry-After`.

A caller is an account (whichever of its credentials it uses) or the ops key, counted once
its credentials are proven: a stranger cannot spend an account's allowance, and requests
count, not events (a 1,000-event usage batch is one request). The counts live in this
process's memory, so each gateway replica limits on its own: behind N replicas a caller may
make up to N times its limit. That is deliberate: no shared store on the hot path; a
cluster-wide limit would point `limits` at Redis instead.
"""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.exceptions import HTTPException


class RateLimits:
    """A sliding-window counter per caller, as `limits` keeps it: constant memory per caller."""

    def __init__(self, limit: str) -> None:
        self.limit: RateLimitItem = parse(limit)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def admit(self, caller: str) -> None:
        """Count one request of `caller`; past its limit, refuse it with a `429`."""
        if await self._limiter.hit(self.limit, caller):
            return
        stats = await self._limiter.get_window_stats(self.limit, caller)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise HTTPException(
            429,
            f"Rate limit exceeded: {self.limit} per caller",
            headers={"Retry-After": str(retry_after)},
        )
