"""The envelope every internal event travels in."""

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

ACCOUNT_SID_PATTERN = re.compile(r"^AC[0-9a-f]{32}$")  # anchored: also used as a schema pattern


def _is_account_sid(value: str) -> str:
    if not ACCOUNT_SID_PATTERN.fullmatch(value):
        raise ValueError("must be AC followed by 32 lowercase hex digits")
    return value


AccountSid = Annotated[StrictStr, AfterValidator(_is_account_sid)]
"""`AC` followed by 32 lowercase hex digits."""


def _must_be_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_must_be_utc)]
"""An instant; naive datetimes are refused, aware ones normalised to UTC."""


class Envelope(BaseModel):
    """A past-tense fact about one account.

    `event_id` is the idempotency key consumers record in their inbox, so a producer that
    may publish the same fact twice (an outbox relay after a crash) must derive it
    deterministically from what caused the fact.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1, max_length=200)
    type: str
    occurred_at: UtcDatetime
    account_sid: AccountSid
