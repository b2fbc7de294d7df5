"""Notification decisions: the policy applied to a trigger and the account's proven-fresh state.

Pure: no I/O. The caller proves freshness (`freshness.py`) and passes the result in.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tally_contracts.accounts import AccountStatus, BillingMode

from tally_notifications import messages
from tally_notifications.policy import Channel, Kind, Recipients, Suppress, action
from tally_notifications.triggers import Trigger


class Outcome(StrEnum):
    """What became of a trigger (CONTRACTS.md §3: `decision`)."""

    SENT = "sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    """Freshness of the account's state could not be proven: decided again later."""
    FAILED = "failed"
    """Set by delivery when a sent notification could finally not be delivered."""


@dataclass(frozen=True)
class AccountView:
    """What notifications knows of an account: its newest state from `accounts.state.v1`."""

    account_sid: str
    version: int
    billing_mode: BillingMode
    status: AccountStatus
    time_zone: str
    contact_email: str | None = None
    webhook_url: str | None = None
    invoice_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """One message to one recipient on one channel, for delivery to send."""

    delivery_id: str
    channel: Channel
    recipient: str
    subject: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """A decision about one trigger, as it is kept."""

    decision_id: str
    trigger: Trigger
    outcome: Outcome
    reason: str
    billing_mode: BillingMode | None
    decided_at: datetime
    deliveries: tuple[Delivery, ...] = field(default=())

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The channels it was sent on, each once, in the policy's order."""
        return tuple(dict.fromkeys(delivery.channel for delivery in self.deliveries))


def decision_id_for(trigger_event_id: str) -> str:
    """The decision's id, derived from its trigger so a replay or retry finds the same one."""
    return "DN" + hashlib.sha256(trigger_event_id.encode()).hexdigest()[:32]


def delivery_id_for(decision_id: str, channel: Channel, recipient: str) -> str:
    """A delivery's id, derived from its decision, channel and recipient: one message each."""
    digest = hashlib.sha256(f"{decision_id}\n{channel}\n{recipient}".encode()).hexdigest()
    return "DL" + digest[:32]


def decide(
    trigger: Trigger,
    account: AccountView | None,
    *,
    fresh: str | None,
    ops_emails: Sequence[str],
    now: datetime,
) -> Decision:
    """Decide about `trigger` for `account` (None: no state known).

    `fresh` is None when the account's state is proven to be the newest published, else why
    it is not: then the decision is deferred, never taken on a state that may be stale.
    """
    decision_id = decision_id_for(trigger.event_id)

    def kept(outcome: Outcome, reason: str, *deliveries: Delivery) -> Decision:
        mode = account.billing_mode if account is not None and fresh is None else None
        return Decision(decision_id, trigger, outcome, reason, mode, now, deliveries)

    if fresh is not None:
        return kept(Outcome.DEFERRED, fresh)
    if account is None:
        return kept(Outcome.DEFERRED, "the account's state is not known yet")
    if trigger.version is not None and account.version < trigger.version:
        return kept(
            Outcome.DEFERRED,
            f"the account's state version {trigger.version} is not known yet"
            f" (newest known: {account.version})",
        )
    rule = action(trigger.kind, account.billing_mode, account.status)
    if isinstance(rule, Suppress):
        return kept(Outcome.SUPPRESSED, _worded(rule))
    if trigger.premise is not None:
        return kept(Outcome.SUPPRESSED, _worded(trigger.premise))
    subject, body = messages.message(trigger, account)
    deliveries = [
        Delivery(
            delivery_id_for(decision_id, channel, recipient), channel, recipient, subject, body
        )
        for channel in rule.channels
        for recipient in _recipients(channel, rule.recipients, trigger, account, ops_emails)
    ]
    if not deliveries:
        return kept(
            Outcome.SUPPRESSED, "no_recipient: no e-mail address or webhook URL to send it to"
        )
    return kept(
        Outcome.SENT, f"{trigger.kind} is sent to {account.billing_mode} accounts", *deliveries
    )


def _worded(suppress: Suppress) -> str:
    return f"{suppress.rule}: {suppress.reason}"


def _recipients(
    channel: Channel,
    recipients: Recipients,
    trigger: Trigger,
    account: AccountView,
    ops_emails: Sequence[str],
) -> list[str]:
    if recipients is Recipients.OPS:
        return list(ops_emails) if channel is Channel.EMAIL else []
    if channel is Channel.WEBHOOK:
        return [account.webhook_url] if account.webhook_url else []
    if recipients is Recipients.INVOICE_RECIPIENTS:
        named = list(trigger.payload.get("recipients") or account.invoice_recipients)
        if named:
            return list(dict.fromkeys(named))
    if trigger.kind is Kind.CREDIT_CHECK_INFORMATION_REQUESTED:
        # the address given with the invoicing request is the one waiting for the questions
        return [str(trigger.payload["contact_email"])]
    return [account.contact_email] if account.contact_email else []
