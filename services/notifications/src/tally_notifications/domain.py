"""The notification policy: what to do about an event, as a pure function over plain data."""

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tally_contracts.envelope import Envelope
from tally_runtime.account_states import KnownAccount


class Outcome(StrEnum):
    """What became of an event that could lead to a notification."""

    SENT = "sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    FAILED = "failed"
    NONE = "none"
    """No rule asks for a notification about this event."""


@dataclass(frozen=True)
class Decision:
    """An outcome and the reason for it, in words support can read back to a customer."""

    outcome: Outcome
    reason: str


Rule = Callable[[Envelope, KnownAccount | None], Decision]
"""Decides about one type of event, given its account's newest known state (None if none yet)."""

POLICY: Mapping[str, Rule] = {}
"""Event type -> rule. Empty until the policy per event type x billing mode x account status
(pay-as-you-go-only notifications suppressed for invoiced accounts) lands."""


def decide(
    event: Envelope, account: KnownAccount | None, policy: Mapping[str, Rule] = POLICY
) -> Decision:
    """Whether `event` leads to a notification for `account` (None when its state is unknown).

    An event type without a rule leads to none.
    """
    rule = policy.get(event.type)
    if rule is None:
        return Decision(Outcome.NONE, f"no notification rule for {event.type} yet")
    return rule(event, account)


def decision_id_for(source_event_id: str) -> str:
    """The decision's id, derived from the event it is about so a replay finds the same one."""
    return "DN" + hashlib.sha256(source_event_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RecordedDecision:
    """A decision as it is kept: about which event, for which account, and when."""

    decision_id: str
    source_event_id: str
    account_sid: str
    event_type: str
    outcome: Outcome
    reason: str
    decided_at: datetime


def recorded(event: Envelope, decision: Decision, now: datetime) -> RecordedDecision:
    """The record of `decision` about `event`, taken at `now`."""
    return RecordedDecision(
        decision_id=decision_id_for(event.event_id),
        source_event_id=event.event_id,
        account_sid=event.account_sid,
        event_type=event.type,
        outcome=decision.outcome,
        reason=decision.reason,
        decided_at=now,
    )
