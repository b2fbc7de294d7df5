"""Which published facts ask for a notification decision, and of which kind (pure)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tally_contracts.accounts import AccountReactivated, AccountSuspended, AccountUpgraded
from tally_contracts.balances import (
    BalanceCrossed,
    BalanceCrossing,
    CardCharged,
    CardDeclined,
    ExposureCrossed,
)
from tally_contracts.envelope import Envelope
from tally_contracts.invoices import InvoiceIssued, InvoiceOverdue
from tally_contracts.invoicing_requests import InvoicingRequestInformationRequested
from tally_contracts.topics import (
    ACCOUNT_LIFECYCLE,
    BALANCE_ALERTS,
    INVOICE_EVENTS,
    INVOICING_REQUESTS,
)

from tally_notifications.policy import Kind, Suppress

TRIGGER_TOPICS = (BALANCE_ALERTS, ACCOUNT_LIFECYCLE, INVOICING_REQUESTS, INVOICE_EVENTS)
"""The topics whose facts may lead to a notification."""

EVENT_MODELS: dict[str, type[Envelope]] = {
    model.model_fields["type"].default: model
    for model in (
        BalanceCrossed,
        CardCharged,
        CardDeclined,
        ExposureCrossed,
        AccountSuspended,
        AccountReactivated,
        AccountUpgraded,
        InvoicingRequestInformationRequested,
        InvoiceIssued,
        InvoiceOverdue,
    )
}
"""Event type -> its contract, for the types that are triggers (the others are ignored)."""

_KIND_OF_TYPE: dict[str, Kind] = {
    "card.charged": Kind.CARD_CHARGED,
    "card.declined": Kind.CARD_DECLINED,
    "exposure.crossed": Kind.CREDIT_EXPOSURE,
    "accounts.suspended": Kind.ACCOUNT_SUSPENDED,
    "accounts.reactivated": Kind.ACCOUNT_REACTIVATED,
    "accounts.upgraded": Kind.UPGRADE_COMPLETED,
    "invoicing_request.information_requested": Kind.CREDIT_CHECK_INFORMATION_REQUESTED,
    "invoice.issued": Kind.INVOICE_ISSUED,
    "invoice.overdue": Kind.INVOICE_OVERDUE,
}

AUTO_RECHARGE_ON = Suppress(
    "auto_recharge_on",
    "auto-recharge was on when the balance fell low: the card charge (or decline) is the notice",
)


@dataclass(frozen=True)
class Trigger:
    """A fact that asks for one decision: its kind, and what the decision needs of it."""

    event_id: str
    topic: str
    event_type: str
    account_sid: str
    occurred_at: datetime
    kind: Kind
    payload: Mapping[str, Any]
    """The event as published, for the message and for deciding again after a deferral."""
    version: int | None = None
    """The account version a lifecycle fact produced: the state must be at least as new."""
    premise: Suppress | None = None
    """A rule of the fact itself that holds the notification back, whatever the account."""


def trigger_of(topic: str, value: bytes) -> Trigger | None:
    """The decision `value` asks for, or None when it is no trigger (recovered, paid, ...)."""
    payload = json.loads(value)
    model = EVENT_MODELS.get(payload.get("type", ""))
    if model is None:
        return None
    event = model.model_validate(payload)
    return trigger_from(topic, event)


def trigger_from(topic: str, event: Envelope) -> Trigger | None:
    """As `trigger_of`, for an event already parsed."""
    payload = event.model_dump(mode="json")
    premise = None
    if isinstance(event, BalanceCrossed):
        if event.crossing is BalanceCrossing.RECOVERED:
            return None
        if event.crossing is BalanceCrossing.DEPLETED:
            kind = Kind.SUSPENSION_WARNING
        else:
            kind = Kind.RECHARGE_REMINDER
            premise = AUTO_RECHARGE_ON if event.auto_recharge else None
    else:
        kind = _KIND_OF_TYPE[payload["type"]]
    return Trigger(
        event_id=payload["event_id"],
        topic=topic,
        event_type=payload["type"],
        account_sid=payload["account_sid"],
        occurred_at=event.occurred_at,
        kind=kind,
        payload=payload,
        version=getattr(event, "version", None),
        premise=premise,
    )


def parsed(payload: Mapping[str, Any]) -> Envelope:
    """The typed event of a trigger's payload."""
    return EVENT_MODELS[payload["type"]].model_validate(payload)
