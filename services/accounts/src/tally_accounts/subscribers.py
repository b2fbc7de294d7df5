"""The accounts service's map from topic to handler, in one place."""

from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.consumer import Subscription

from tally_accounts.suspension import record_balances

SUBSCRIPTIONS = (
    # invoicing's balance facts start and end the grace period before a suspension
    Subscription(BALANCE_CHANGED, record_balances),
)
