"""Kafka entry points, the topic -> handler map of the usage service in one place."""

from tally_contracts.topics import ACCOUNT_STATE, MONTH_CLOSED, USAGE_EVENTS
from tally_runtime.consumer import Subscription

from tally_usage.account_handlers import record_account_states, record_months_closed
from tally_usage.handlers import record_usage

SUBSCRIPTIONS = (
    # Bad JSON is a dead letter, not a decoding failure: the handler gets the raw records.
    Subscription(USAGE_EVENTS, record_usage),
    # The account's zones date its usage; usage that arrived before its state is applied here.
    # Ahead of usage: behind a backlog, a new account's state would wait for all of it, and
    # every event of the account meanwhile would be parked and applied later in bulk.
    Subscription(ACCOUNT_STATE, record_account_states, ahead=True),
    # Usage for a closed month is late: recorded apart, never folded into the closed month.
    Subscription(MONTH_CLOSED, record_months_closed),
)
