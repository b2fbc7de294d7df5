"""Pure usage rules: validating a raw message, the canonical payload, new/duplicate/conflict."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError
from tally_contracts.errors import FieldError, field_errors
from tally_contracts.usage import UsageEvent, parse_usage_event

UNKNOWN_KEY = "unknown"
"""The Kafka key of a dead letter whose source message had no key."""

KEPT_IDENTITY_CHARS = 200
"""How much of an invalid event's account SID or event id is kept with its rejection.

Not the contract's limit (128): an id rejected for being longer is kept too, cut to this.
"""


@dataclass(frozen=True)
class RawUsageMessage:
    """One record of `usage.events.v1` exactly as Kafka delivered it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    @property
    def letter_id(self) -> str:
        """The id of this message's dead letter: its position and bytes, stable on redelivery.

        The bytes are part of it so a new message at the same position of a recreated topic
        is rejected in its own right.
        """
        position = f"{self.topic}:{self.partition}:{self.offset}:".encode()
        return "DL" + hashlib.sha256(position + self.value).hexdigest()[:32]

    @property
    def key_text(self) -> str | None:
        """The key as text (the producer's account SID), if the record had one."""
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    @property
    def original(self) -> str:
        """The value as text, undecodable bytes replaced, for dead letters and support."""
        return self.value.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class InvalidUsage:
    """A message that broke the contract, and whose event it claimed to be, where readable."""

    errors: list[FieldError]
    account_sid: str | None = None
    event_id: str | None = None


class Outcome(StrEnum):
    """What handling one message did."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    REDELIVERED = "redelivered"
    PARKED = "parked"
    """Valid, for an account usage has no state for yet: applied when the state arrives."""


def validate_usage(message: RawUsageMessage, now: datetime) -> UsageEvent | InvalidUsage:
    """The event in `message` if it keeps every rule of CONTRACTS.md §1 and its key is its SID."""
    try:
        event = parse_usage_event(message.value, now=now)
    except ValidationError as error:
        account_sid, event_id = _readable_identity(message.value)
        identity = account_sid or _short_text(message.key_text)
        return InvalidUsage(field_errors(error), identity, event_id)
    if message.key_text != event.account_sid:
        # Partitioning by key is what keeps one account's events in order; a wrong key breaks it.
        return InvalidUsage([_key_error(message.key_text)], event.account_sid, event.event_id)
    return event


def _key_error(key: str | None) -> FieldError:
    if key is None:
        reason = "the message has no key; publish each event with its account SID as the key"
    else:
        reason = (
            f"differs from the message key {key!r}; publish each event with its account SID"
            " as the key"
        )
    return FieldError(field="account_sid", reason=reason)


def _readable_identity(value: bytes) -> tuple[str | None, str | None]:
    # Best effort, so a rejection can still be found by account and event id.
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    return _short_text(document.get("account_sid")), _short_text(document.get("event_id"))


def _short_text(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value[:KEPT_IDENTITY_CHARS]


def canonical_payload(event: UsageEvent) -> str:
    """The event's fields as a JSON array in a fixed order, normalised: equal payloads, equal text.

    The quantity is its plain decimal string, the instant is in UTC, attributes are sorted by
    name. An array, not an object, because it is built for every event on the hot path.
    """
    return json.dumps(
        [
            event.event_id,
            event.account_sid,
            event.category.value,
            event.wire_quantity(),
            event.occurred_at.isoformat(),
            event.phone_number,
            event.number_type.value if event.number_type else None,
            sorted(event.attributes.items()),
        ],
        separators=(",", ":"),
    )


def payload_hash(event: UsageEvent) -> str:
    """SHA-256 of the canonical payload, what tells a duplicate from a conflict."""
    return hashlib.sha256(canonical_payload(event).encode()).hexdigest()


@dataclass(frozen=True)
class AcceptedUsage:
    """A valid event, the message that carried it and its payload hash."""

    message: RawUsageMessage
    event: UsageEvent
    payload_hash: str

    @property
    def key(self) -> tuple[str, str]:
        """(account_sid, event_id): the event's identity, what deduplication is keyed by."""
        return (self.event.account_sid, self.event.event_id)


@dataclass(frozen=True)
class StoredUsage:
    """What is stored under an event's identity: the payload hash and the record it came from."""

    payload_hash: str
    source_partition: int | None
    source_offset: int | None


def stored_as(accepted: AcceptedUsage) -> StoredUsage:
    """What storing `accepted` keeps under its identity."""
    message = accepted.message
    return StoredUsage(accepted.payload_hash, message.partition, message.offset)


def classify_repeat(accepted: AcceptedUsage, stored: StoredUsage) -> Outcome:
    """An event whose identity is stored already: the same record again, or a producer's repeat.

    The same record delivered again (after a crash before the offset commit) is a redelivery
    and changes nothing; another record with the same payload is a duplicate, with another
    payload a conflict.
    """
    message = accepted.message
    if (stored.source_partition, stored.source_offset) == (message.partition, message.offset):
        return Outcome.REDELIVERED
    if stored.payload_hash == accepted.payload_hash:
        return Outcome.DUPLICATE
    return Outcome.CONFLICT


@dataclass
class SortedBatch:
    """A batch of messages sorted for storing: refused ones, first sightings and repeats."""

    invalid: list[tuple[RawUsageMessage, InvalidUsage]] = field(default_factory=list)
    firsts: list[AcceptedUsage] = field(default_factory=list)
    repeats_in_batch: list[AcceptedUsage] = field(default_factory=list)


def sort_batch(messages: list[RawUsageMessage], now: datetime) -> SortedBatch:
    """Validate each message; of several with one identity, the first in order stands."""
    batch = SortedBatch()
    seen: set[tuple[str, str]] = set()
    for message in messages:
        verdict = validate_usage(message, now)
        if isinstance(verdict, InvalidUsage):
            batch.invalid.append((message, verdict))
            continue
        accepted = AcceptedUsage(message, verdict, payload_hash(verdict))
        if accepted.key in seen:
            batch.repeats_in_batch.append(accepted)
        else:
            seen.add(accepted.key)
            batch.firsts.append(accepted)
    return batch
