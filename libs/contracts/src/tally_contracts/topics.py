"""Every Kafka topic Tally uses, named `<domain>.<fact>.v<N>`; a released name is never edited."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created: partitions, and whether it is compacted by key."""

    name: str
    partitions: int = 8
    compacted: bool = False


USAGE_EVENTS = "usage.events.v1"
"""Producers publish raw usage here (CONTRACTS.md §1), keyed by account SID."""

USAGE_REJECTED = "usage.rejected.v1"
"""Dead letters: usage events that broke the contract, with the original bytes and the reason."""

USAGE_RECORDED = "usage.recorded.v1"
"""Usage that was validated, deduplicated and stored: the input of rating."""

ACCOUNT_STATE = "accounts.state.v1"
"""The latest state of every account (billing mode, time zone, status), compacted by SID."""

ACCOUNT_LIFECYCLE = "accounts.lifecycle.v1"
"""Past-tense facts of an account's life: upgraded, billing mode changed, suspended, reactivated."""

INVOICING_REQUESTS = "accounts.invoicing_requests.v1"
"""Facts of invoicing requests (information requested), keyed by SID; no credit-check data."""

BALANCE_CHANGED = "balances.changed.v1"
"""A rated charge moved an account's balance."""

BALANCE_ALERTS = "balances.alerts.v1"
"""Facts a customer may need to hear about: threshold crossings, auto-recharge card charges and
declines, an invoiced account's credit exposure."""

INVOICE_EVENTS = "invoices.events.v1"
"""Invoices issued, paid and overdue."""

MONTH_CLOSED = "invoices.month_closed.v1"
"""Invoicing closed an account's billing month: usage for it that arrives later is late."""

ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(USAGE_EVENTS),
    TopicSpec(USAGE_REJECTED),
    TopicSpec(USAGE_RECORDED),
    TopicSpec(ACCOUNT_STATE, compacted=True),
    TopicSpec(ACCOUNT_LIFECYCLE),
    TopicSpec(INVOICING_REQUESTS),
    TopicSpec(BALANCE_CHANGED),
    TopicSpec(BALANCE_ALERTS),
    TopicSpec(INVOICE_EVENTS),
    TopicSpec(MONTH_CLOSED),
)
