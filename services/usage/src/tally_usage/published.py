"""What usage publishes, built from validated usage: the recorded fact and dead letters. Pure."""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from tally_contracts.errors import FieldError
from tally_contracts.usage import UsageEvent, UsageRecorded, UsageRejected

from tally_usage.domain import AcceptedUsage, RawUsageMessage


def recorded_event_id(account_sid: str, event_id: str) -> str:
    """The UsageRecorded id, derived from the usage event so a republish is recognised."""
    return f"usage:{account_sid}:{event_id}"


def usage_recorded(
    event: UsageEvent,
    now: datetime,
    *,
    local_date: date | None = None,
    period: str | None = None,
    late: bool = False,
) -> UsageRecorded:
    """The fact rating consumes: this usage was accepted and stored, dated for its account."""
    return _trusted_recorded(
        {
            "event_id": recorded_event_id(event.account_sid, event.event_id),
            "type": "usage.recorded",
            "occurred_at": now,
            "account_sid": event.account_sid,
            "usage_event_id": event.event_id,
            "category": event.category,
            "quantity": Decimal(event.wire_quantity()),
            "usage_occurred_at": event.occurred_at,
            "phone_number": event.phone_number,
            "number_type": event.number_type,
            "local_date": local_date,
            "period": period,
            "late": late,
        }
    )


_RECORDED_FIELDS = frozenset(UsageRecorded.model_fields)


def _trusted_recorded(values: dict[str, object]) -> UsageRecorded:
    """A UsageRecorded of values that are valid by construction (every field, in field order).

    What `model_construct` does, without its per-field walk over aliases and defaults: built
    for every recorded event, that walk cost a quarter of the pipeline's handler. Validation
    is skipped too, as there: the values come from an event validated moments before.
    """
    recorded = UsageRecorded.__new__(UsageRecorded)
    object.__setattr__(recorded, "__dict__", values)
    object.__setattr__(recorded, "__pydantic_fields_set__", _RECORDED_FIELDS)
    object.__setattr__(recorded, "__pydantic_extra__", None)
    object.__setattr__(recorded, "__pydantic_private__", None)
    return recorded


def conflict_error(event_id: str) -> FieldError:
    """Why a conflicting repeat is rejected, in words its producer can act on."""
    return FieldError(
        field="event_id",
        reason=(
            f"event id {event_id!r} was already recorded with a different payload; the first"
            " payload counts, this one is ignored. Use a new event id for different usage"
        ),
    )


def conflict_letter(accepted: AcceptedUsage, now: datetime) -> UsageRejected:
    """The dead letter for a repeat of a recorded event id that carries another payload."""
    errors = [conflict_error(accepted.event.event_id)]
    return dead_letter(accepted.message, errors, now, reason="conflict")


def dead_letter(
    message: RawUsageMessage,
    errors: list[FieldError],
    now: datetime,
    reason: Literal["invalid", "conflict"] = "invalid",
) -> UsageRejected:
    """The dead letter for `message`: its original bytes, where it came from and why."""
    return UsageRejected(
        letter_id=message.letter_id,
        rejected_at=now,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        key=message.key_text,
        original=message.original,
        errors=errors,
        reason=reason,
    )
