"""Delivery's pure rules: backoff, the rate limit, the send-time guard, the webhook signature.

No I/O here: the worker and the senders call these with plain data and an explicit `now`.
"""

import hashlib
import hmac
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import tenacity

from tally_notifications.policy import PREPAID_ONLY

Channel = Literal["email", "webhook"]


@dataclass(frozen=True)
class Delivery:
    """One message to send: a row of `deliveries` as the decision side wrote it, once claimed."""

    delivery_id: str
    decision_id: str
    account_sid: str
    channel: Channel
    recipient: str
    kind: str
    subject: str
    body: dict[str, Any]
    attempts: int
    """Attempts so far, this one included once it is claimed."""
    created_at: datetime


@dataclass(frozen=True)
class Backoff:
    """How long to wait before trying a failed delivery again, and how often to try at all."""

    initial_seconds: float
    max_seconds: float
    max_attempts: int

    def wait_after(self, attempt: int) -> timedelta:
        """The wait after failed attempt number `attempt` (1 for the first).

        Exponential with "equal jitter": half of `initial * 2**(attempt-1)` (capped) is fixed,
        the other half random, so every retry waits at least that half and retries of many
        deliveries that failed together (a relay restarting) spread out instead of arriving
        at once. tenacity's wait strategies, evaluated for a stored attempt count: the retry
        loop itself cannot be tenacity's, since an attempt must survive a restart and be
        taken up by any replica, so its state lives in the row.
        """
        half, cap = self.initial_seconds / 2, self.max_seconds / 2
        wait = tenacity.wait_exponential(multiplier=half, max=cap) + (
            tenacity.wait_random_exponential(multiplier=half, max=cap)
        )
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = attempt
        return timedelta(seconds=wait(state))

    def gives_up_after(self, attempt: int) -> bool:
        """Whether failed attempt number `attempt` is the last one."""
        return attempt >= self.max_attempts


@dataclass(frozen=True)
class Bucket:
    """An account's (and channel's) token bucket: tokens left as of `refilled_at`."""

    tokens: float
    refilled_at: datetime


@dataclass(frozen=True)
class Admission:
    """What the rate limit lets through now, the bucket after it, and when to try the rest."""

    admitted: int
    bucket: Bucket
    retry_at: datetime | None
    """When the next token is there; None when everything wanted was admitted."""


def admit(bucket: Bucket, wanted: int, now: datetime, per_hour: int) -> Admission:
    """Take up to `wanted` tokens from a bucket that holds `per_hour` and refills as many an hour.

    What does not fit waits for the next token: deferred, never dropped.
    """
    rate = per_hour / 3600.0  # tokens a second
    elapsed = max(0.0, (now - bucket.refilled_at).total_seconds())
    tokens = min(float(per_hour), bucket.tokens + elapsed * rate)
    admitted = min(wanted, math.floor(tokens))
    left = tokens - admitted
    retry_at = None if admitted == wanted else now + timedelta(seconds=(1.0 - left) / rate)
    return Admission(admitted, Bucket(left, now), retry_at)


def full_bucket(per_hour: int, now: datetime) -> Bucket:
    """The bucket of an account that has not been sent anything yet."""
    return Bucket(float(per_hour), now)


@dataclass(frozen=True)
class SendTimeCheck:
    """The send-time guard's verdict on a batch: what may go, what is withheld, what waits."""

    send: list[Delivery]
    withheld: dict[str, str]
    """Delivery id -> the reason its decision is now suppressed with."""
    postponed: dict[str, str]
    """Delivery id -> why the accounts service's answer is missing."""


def gated(kind: str) -> bool:
    """Whether `kind` is one of the prepaid-only kinds checked with accounts before sending."""
    return kind in PREPAID_ONLY


def check_at_send(
    deliveries: Sequence[Delivery], modes: dict[str, str], unanswered: dict[str, str]
) -> SendTimeCheck:
    """Split claimed deliveries by the accounts service's answers, read right before sending.

    `modes` holds each answered account's committed billing mode, `unanswered` why an account
    had none. A prepaid-only kind goes only to an account said not to be invoiced; without an
    answer it waits (never a guess). Other kinds are not gated.
    """
    send: list[Delivery] = []
    withheld: dict[str, str] = {}
    postponed: dict[str, str] = {}
    for delivery in deliveries:
        if not gated(delivery.kind):
            send.append(delivery)
        elif delivery.account_sid in modes:
            if modes[delivery.account_sid] == "invoiced":
                withheld[delivery.delivery_id] = (
                    f"prepaid_only: {delivery.kind} is for trial and pay-as-you-go accounts only;"
                    " the account was switched to invoiced before delivery"
                )
            else:
                send.append(delivery)
        else:
            postponed[delivery.delivery_id] = unanswered.get(
                delivery.account_sid, "the accounts service did not answer"
            )
    return SendTimeCheck(send, withheld, postponed)


SIGNATURE_HEADER = "Tally-Signature"
DELIVERY_ID_HEADER = "Tally-Delivery-Id"
"""The same on every attempt of one delivery, so a receiver can recognise a repeat."""


def signature(secret: str, body: bytes, at: datetime) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` keyed by the account's webhook secret."""
    timestamp = int(at.timestamp())
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_body(delivery: Delivery) -> bytes:
    """The JSON a webhook receives: what happened, to which account, and its variables."""
    document = {
        "delivery_id": delivery.delivery_id,
        "kind": delivery.kind,
        "account_sid": delivery.account_sid,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.body,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
