"""Notifications' Kafka entry points: the topic -> handler map, in one place."""

from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.consumer import Subscription

from tally_notifications.handlers import Deciding, project_account_states
from tally_notifications.triggers import TRIGGER_TOPICS


def subscriptions(deciding: Deciding) -> tuple[Subscription, ...]:
    """Every trigger topic decided by `deciding`, and the account-state projection it reads.

    `balances.changed.v1` is not here: a balance change is no trigger, its crossing of a
    threshold is (`balances.alerts.v1`).
    """
    return (
        *(Subscription(topic, deciding.decide_triggers) for topic in TRIGGER_TOPICS),
        # Ahead of the triggers: the read barrier defers every decision until it has caught up.
        Subscription(ACCOUNT_STATE, project_account_states, ahead=True),
    )
