"""Notifications' Kafka entry points: the topic -> handler map, in one place."""

from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.account_states import ACCOUNT_STATES
from tally_runtime.consumer import Subscription

from tally_notifications.handlers import decide_notifications

SUBSCRIPTIONS = (
    Subscription(BALANCE_CHANGED, decide_notifications),
    ACCOUNT_STATES,  # the newest state of each account, the projection services share
)
