"""What the SDK answers for each event it was given: sent and acknowledged, refused, or failed."""

from dataclasses import dataclass
from enum import StrEnum

from tally_contracts.errors import FieldError


class AckStatus(StrEnum):
    ACCEPTED = "accepted"
    """Tally has it durably (HTTP: the gateway's `202`; Kafka: the broker's ack)."""
    INVALID = "invalid"
    """Refused by the SDK before sending: it breaks the usage contract. Nothing was sent."""
    REJECTED = "rejected"
    """Sent, and refused by the gateway (its rule may differ from the SDK's, e.g. a clock)."""
    FAILED = "failed"
    """Not acknowledged after every retry: send it again, its event id makes that safe."""


@dataclass(frozen=True)
class Ack:
    """One event's outcome; `index` is its position in what was given to `send`."""

    index: int
    event_id: str | None
    status: AckStatus
    errors: tuple[FieldError, ...] = ()
    partition: int | None = None
    """Kafka only: where the broker stored the event."""
    offset: int | None = None

    @property
    def field(self) -> str | None:
        """The first offending field of an invalid or rejected event."""
        return self.errors[0].field if self.errors else None

    @property
    def reason(self) -> str | None:
        return self.errors[0].reason if self.errors else None
