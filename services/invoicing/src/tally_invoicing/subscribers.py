"""Invoicing's Kafka entry points: the topic -> handler map, in one place."""

from tally_contracts.topics import ACCOUNT_STATE, USAGE_RECORDED
from tally_runtime.consumer import Subscription

from tally_invoicing.charging import charge_usage
from tally_invoicing.handlers import record_account_states

SUBSCRIPTIONS = (
    Subscription(USAGE_RECORDED, charge_usage),
    # The shared projection of account states, plus the trial credit of new trial accounts;
    # ahead of usage, so a backlog of usage never holds a new account's state (and credit) back.
    Subscription(ACCOUNT_STATE, record_account_states, ahead=True),
)
