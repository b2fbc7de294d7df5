"""Usage events checked against the producer contract (CONTRACTS.md §1) before they are sent.

The SDK uses the very models the gateway and the usage service validate with
(`tally_contracts.usage`), so an event the SDK lets through is one Tally accepts, and one it
refuses is refused with the same field and reason.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from tally_contracts.errors import FieldError, field_errors
from tally_contracts.usage import UsageEvent, validation_context

EventInput = UsageEvent | Mapping[str, Any]
"""What `send` takes: a contract model, or a mapping of its fields (numbers may be Decimal)."""


class InvalidUsageEvent(ValueError):
    """An event breaks the usage contract; `errors` names each offending field and why."""

    def __init__(self, errors: list[FieldError], event_id: str | None = None) -> None:
        self.errors = errors
        self.event_id = event_id
        named = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        which = f"invalid usage event {event_id}" if event_id else "invalid usage event"
        super().__init__(f"{which}: {named}")


def validate_event(
    event: EventInput, *, account_sid: str | None = None, now: datetime | None = None
) -> UsageEvent:
    """The event as the contract model, or InvalidUsageEvent naming the field.

    `account_sid` fills in an event that leaves its account out (as the HTTP API allows);
    an event naming another account is refused. `now` is the clock of the future-time rule.
    """
    if isinstance(event, UsageEvent):
        event = event.model_dump(mode="json", exclude_none=True)
    if not isinstance(event, Mapping):
        raise InvalidUsageEvent([FieldError(field="(event)", reason="must be a JSON object")])
    fields = dict(event)
    event_id = fields.get("event_id") if isinstance(fields.get("event_id"), str) else None
    if account_sid is not None:
        given = fields.setdefault("account_sid", account_sid)
        if given != account_sid:
            reason = f"must be the client's account, {account_sid}"
            raise InvalidUsageEvent([FieldError(field="account_sid", reason=reason)], event_id)
    try:
        return UsageEvent.model_validate(fields, context=validation_context(now))
    except ValidationError as error:
        raise InvalidUsageEvent(field_errors(error), event_id) from None


def encode_event(event: UsageEvent) -> bytes:
    """The bytes published on `usage.events.v1`, exactly as the gateway encodes them.

    The same event always gives the same bytes (quantity as a plain decimal string), so a
    retried event is recognised as a duplicate, never as a conflict.
    """
    return event.model_dump_json(exclude_none=True).encode()


@dataclass(frozen=True)
class Checked:
    """Events split into those fit to send (with their input positions) and the refused ones."""

    valid: list[tuple[int, UsageEvent]]
    invalid: list[tuple[int, InvalidUsageEvent]]


def check_events(
    events: Iterable[EventInput], *, account_sid: str | None = None, now: datetime | None = None
) -> Checked:
    """Validate every event; none is dropped silently: each is valid or invalid, by index."""
    valid: list[tuple[int, UsageEvent]] = []
    invalid: list[tuple[int, InvalidUsageEvent]] = []
    for index, event in enumerate(events):
        try:
            valid.append((index, validate_event(event, account_sid=account_sid, now=now)))
        except InvalidUsageEvent as error:
            invalid.append((index, error))
    return Checked(valid, invalid)


def batches(items: list[Any], size: int) -> list[list[Any]]:
    """`items` in consecutive chunks of at most `size` (the last may be shorter)."""
    if size < 1:
        raise ValueError("a batch holds at least one event")
    return [items[start : start + size] for start in range(0, len(items), size)]
