"""Valid usage events for a scenario's accounts: varied categories and quantities (up to six
decimal places, so rounding mistakes show), ids unique per run, reproducible from a seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

CATEGORIES = ("calls-inbound", "calls-outbound", "sms-inbound", "sms-outbound")


def recent_instant() -> str:
    """A minute ago, RFC 3339: valid (not in the future) whatever the clock does meanwhile."""
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return occurred.isoformat().replace("+00:00", "Z")


class Generator:
    """Events over `sids`, round robin; ids `<tag>-<n>`."""

    def __init__(self, sids: list[str], tag: str, seed: int) -> None:
        self.sids = sids
        self.tag = tag
        self.chance = random.Random(seed)
        self.sequence = 0
        self.occurred_at = recent_instant()

    def quantity(self) -> str:
        """0 to 30 with up to 6 decimals, as a string (the contract allows a JSON number too)."""
        places = self.chance.choice((0, 1, 3, 6))
        units = self.chance.randrange(0, 30 * 10**places + 1)
        if places == 0:
            return str(units)
        return f"{units // 10**places}.{units % 10**places:0{places}d}"

    def event(self, sid: str | None = None) -> dict[str, Any]:
        sequence = self.sequence
        self.sequence += 1
        return {
            "event_id": f"{self.tag}-{sequence}",
            "account_sid": sid or self.sids[sequence % len(self.sids)],
            "category": CATEGORIES[self.chance.randrange(len(CATEGORIES))],
            "quantity": self.quantity(),
            "occurred_at": self.occurred_at,
        }

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.event()

    def chunks(self, count: int, size: int) -> Iterator[list[dict[str, Any]]]:
        """`count` events in lists of at most `size`."""
        while count > 0:
            take = min(size, count)
            count -= take
            yield list(self.events(take))
