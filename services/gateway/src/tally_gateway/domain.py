"""The gateway's pure rules: credentials, account openings, which usage events may go on."""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from tally_contracts.envelope import ACCOUNT_SID_PATTERN
from tally_contracts.errors import field_errors
from tally_contracts.usage import UsageEvent, validation_context

MAX_EVENTS_PER_REQUEST = 1000
WHOLE_EVENT = "(event)"
"""The `field` of a rejection that concerns the event as a whole (it is not an object)."""


# --- credentials -------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicCredentials:
    """The `username:password` pair of an HTTP Basic header."""

    username: str
    password: str = field(repr=False)


def hash_token(pepper: bytes, token: str) -> bytes:
    """What is stored instead of a token: HMAC-SHA256 keyed with the pepper."""
    return hmac.new(pepper, token.encode(), hashlib.sha256).digest()


def token_matches(pepper: bytes, presented: str, stored_hash: bytes) -> bool:
    """Whether a presented token is the one whose hash was stored, in constant time."""
    return hmac.compare_digest(hash_token(pepper, presented), stored_hash)


def is_ops_key(presented: str, ops_key: str) -> bool:
    """Whether the presented bearer key is the ops key, in constant time."""
    return hmac.compare_digest(presented.encode(), ops_key.encode())


def basic_credentials(scheme: str, encoded: str) -> BasicCredentials | None:
    """Decode the credentials of an `Authorization: Basic <base64>` header; None if malformed."""
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    if not (separator and username and password):
        return None
    return BasicCredentials(username, password)


def is_account_sid(username: str) -> bool:
    """Whether a Basic username names an account (API keys, `SK...`, name themselves)."""
    return ACCOUNT_SID_PATTERN.fullmatch(username) is not None


KEY_SID_PATTERN = re.compile(r"^SK[0-9a-f]{32}$")


def is_key_sid(username: str) -> bool:
    """Whether a Basic username names an API key: `SK` and 32 lowercase hex digits."""
    return KEY_SID_PATTERN.fullmatch(username) is not None


@dataclass(frozen=True)
class NewApiKey:
    """A fresh API key: its SID, and its secret, which is shown once and stored only hashed."""

    key_sid: str
    secret: str = field(repr=False)


def new_api_key() -> NewApiKey:
    """An unguessable key SID and secret."""
    return NewApiKey(key_sid="SK" + secrets.token_hex(16), secret=secrets.token_urlsafe(32))


# --- account openings --------------------------------------------------------------------

RETRY_WINDOW = timedelta(hours=24)
"""How long a retry under the same Idempotency-Key can show an account's auth token again."""


@dataclass(frozen=True)
class Opening:
    """An account the gateway set out to open, under the Idempotency-Key of the request.

    Recorded before the accounts service is asked, so whatever fails afterwards, a retry
    opens (or finds) this very SID and shows the token its seed stands for.
    """

    idempotency_key: str
    request_hash: bytes
    account_sid: str
    token_seed: bytes | None = field(repr=False)
    """None once the retry window has passed: then only the token's hash is kept."""
    opened_at: datetime


def new_opening(idempotency_key: str, request: Mapping[str, Any], *, now: datetime) -> Opening:
    """A fresh SID and token seed for a request that has not been seen under its key."""
    return Opening(
        idempotency_key=idempotency_key,
        request_hash=request_hash(request),
        account_sid="AC" + secrets.token_hex(16),
        token_seed=secrets.token_bytes(16),
        opened_at=now,
    )


def request_hash(request: Mapping[str, Any]) -> bytes:
    """What tells two requests apart under one Idempotency-Key: a hash of their fields."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def auth_token_from(pepper: bytes, seed: bytes) -> str:
    """The auth token a seed stands for: 32 hex digits, which nobody without the pepper knows."""
    return hmac.new(pepper, b"auth-token:" + seed, hashlib.sha256).hexdigest()[:32]


# --- usage -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """One broken rule of one event of a request, by its index in `events`."""

    index: int
    field: str
    reason: str

    @property
    def path(self) -> str:
        """Where the broken rule is in the request body, e.g. `events[3].quantity`."""
        event = f"events[{self.index}]"
        return event if self.field == WHOLE_EVENT else f"{event}.{self.field}"


@dataclass(frozen=True)
class ValidatedUsage:
    """A request's events split into those that go on to Kafka and what was wrong with the rest."""

    accepted: list[UsageEvent]
    rejected: list[Rejection]


def validate_usage(
    raw_events: Sequence[object], *, account_sid: str, now: datetime
) -> ValidatedUsage:
    """Check every event against the producer contract; `account_sid` may be left out of each."""
    context = validation_context(now)
    accepted: list[UsageEvent] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            rejected.append(Rejection(index, WHOLE_EVENT, "must be a JSON object"))
            continue
        problems = []
        if "account_sid" in raw and raw["account_sid"] != account_sid:
            problems.append(
                Rejection(index, "account_sid", f"must be the account in the path, {account_sid}")
            )
        try:
            event = UsageEvent.model_validate({**raw, "account_sid": account_sid}, context=context)
        except ValidationError as error:
            problems.extend(Rejection(index, e.field, e.reason) for e in field_errors(error))
        if problems:
            rejected.extend(problems)
        else:
            accepted.append(event)
    return ValidatedUsage(accepted, rejected)


def encode_usage_event(event: UsageEvent) -> bytes:
    """The event as a producer publishes it on `usage.events.v1`, quantity a plain decimal string.

    The canonical quantity (`"100"`, never `"1E+2"`) keeps re-sent events byte-comparable.
    """
    return event.model_dump_json(exclude_none=True).encode()
