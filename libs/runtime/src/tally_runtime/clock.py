"""Time as a dependency: handlers take a clock, so tests can fix "now"."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current instant, in UTC."""


def utc_now() -> datetime:
    """The wall clock, as a UTC instant."""
    return datetime.now(UTC)
