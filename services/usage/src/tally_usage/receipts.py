"""What a producer is told about its events, and the totals it can read: pure rules."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tally_contracts.errors import FieldError

from tally_usage.published import conflict_error


class ReceiptStatus(StrEnum):
    """What became of an event id, as its producer is told."""

    RECORDED = "recorded"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class EventHistory:
    """Everything stored about one event id of one account."""

    recorded_at: datetime | None = None
    duplicates: int = 0
    conflicts: int = 0
    last_rejection: list[FieldError] = field(default_factory=list)
    rejections: int = 0


def receipt_status(history: EventHistory) -> ReceiptStatus:
    """Whether the event id counts, and whether its producer has something to fix.

    A recorded event counts exactly once whatever came after it. Repeats of the same payload
    are harmless, so it stays `recorded` (with `duplicates` counted); a repeat with a
    different payload means some usage was never applied, so it is reported as `conflict`.
    Rejections of an event that was later recorded no longer matter.
    """
    if history.recorded_at is not None:
        return ReceiptStatus.CONFLICT if history.conflicts else ReceiptStatus.RECORDED
    if history.rejections:
        return ReceiptStatus.REJECTED
    return ReceiptStatus.UNKNOWN


def receipt_errors(event_id: str, history: EventHistory) -> list[FieldError]:
    """Why copies of the event id were refused, for the statuses that have a reason."""
    status = receipt_status(history)
    if status is ReceiptStatus.CONFLICT:
        return [conflict_error(event_id)]
    if status is ReceiptStatus.REJECTED:
        return history.last_rejection
    return []


@dataclass(frozen=True)
class CategoryTotal:
    """How many events of one category an account has stored, and their summed quantity."""

    category: str
    events: int
    quantity: Decimal
