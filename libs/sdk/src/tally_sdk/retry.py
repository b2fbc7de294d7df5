"""When a request is worth sending again, and after how long: a pure policy, no I/O.

Only answers that say "not now" are retried: `429` (the account's rate limit, after its
`Retry-After`), `502`/`503`/`504` (Kafka or a service behind the gateway not answering) and
transport errors (no answer at all). A `4xx` about the request itself (`400`, `401`, `404`,
`413`, `422`) is never retried: the same request would be refused again. Resending is safe
because events keep their ids: a repeat is counted once, as a duplicate.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRIED_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` tries in all, exponential backoff with jitter, capped at `max_delay`."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 10.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed try number `attempt` (1-based): full jitter, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # never 0: a tight loop helps nobody

    def delay_after(
        self, attempt: int, status: int | None, retry_after: str | None = None
    ) -> float | None:
        """Seconds to wait before the next try, or None when it must not be retried.

        `status` None means no answer came (a connection error or timeout). A `Retry-After`
        the server sent wins over the backoff, capped at `max_delay` (beyond it the client
        gives up instead: it is the caller's to decide whether to wait that long).
        """
        if attempt >= self.attempts:
            return None
        if status is not None and status not in RETRIED_STATUSES:
            return None
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return asked if asked <= self.max_delay else None
        return self.backoff(attempt)


NO_RETRIES = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None if absent
    or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
