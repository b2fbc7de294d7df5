"""A Kafka record as handlers see it: plain data, no client objects."""

from collections.abc import Sequence
from dataclasses import dataclass, field

TRACEPARENT = "traceparent"
"""The W3C trace-context header every hop carries, sampled or not."""


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """One record of a topic exactly as the broker delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()
    traceparent: str | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> "ConsumedRecord":
        """The record, with its trace context read from its headers once."""
        traceparent = next(
            (raw.decode("ascii", "replace") for name, raw in headers if name == TRACEPARENT),
            None,
        )
        return cls(topic, partition, offset, key, value or b"", headers, traceparent)

    @property
    def position(self) -> str:
        """`topic[partition]@offset`: where the record sits, for logs and parking."""
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def key_text(self) -> str | None:
        """The key as text, undecodable bytes replaced; None for a record without a key."""
        return None if self.key is None else self.key.decode("utf-8", errors="replace")


def is_sampled(traceparent: str | None) -> bool:
    """Whether a W3C `traceparent` asks for its trace to be recorded (flag bit 0 set)."""
    # "00-<trace id>-<span id>-<flags>": only the last two hex digits matter here, and a
    # cheap check keeps the unsampled 99 % of records free of any OpenTelemetry work.
    if traceparent is None or len(traceparent) != 55:
        return False
    try:
        return bool(int(traceparent[53:], 16) & 1)
    except ValueError:
        return False
