"""Kafka entry points, the topic -> handler map of the usage service in one place."""

from tally_contracts.topics import USAGE_EVENTS
from tally_runtime.consumer import Subscription

from tally_usage.handlers import record_usage

# Bad JSON is a dead letter, not a decoding failure: the handler gets the raw records.
SUBSCRIPTIONS = (Subscription(USAGE_EVENTS, record_usage),)
