"""Invoicing's Kafka entry points: the topic -> handler map, in one place."""

from tally_contracts.topics import USAGE_RECORDED
from tally_runtime.account_states import ACCOUNT_STATES
from tally_runtime.consumer import Subscription

from tally_invoicing.handlers import charge_usage

SUBSCRIPTIONS = (
    Subscription(USAGE_RECORDED, charge_usage),
    ACCOUNT_STATES,  # the newest state of each account, the projection services share
)
