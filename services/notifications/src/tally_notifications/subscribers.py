"""Notifications' Kafka entry points: the topic -> handler map, in one place."""

import asyncpg
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tally_contracts.balances import BalanceChanged
from tally_contracts.topics import BALANCE_CHANGED
from tally_runtime.account_states import subscribe_account_states
from tally_runtime.clock import Clock
from tally_runtime.consuming import exactly_once, parse_or_skip
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_notifications import handlers
from tally_notifications.config import NotificationsSettings


def register_subscribers(
    broker: KafkaBroker, *, settings: NotificationsSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe notifications' handlers; call before the broker starts."""

    @exactly_once(broker, BALANCE_CHANGED, settings)
    async def on_balance_changed(msg: KafkaMessage) -> None:
        if event := parse_or_skip(BalanceChanged, msg):
            await handlers.decide_notification(event, pool=pool, clock=clock)
        crash_if_armed(settings, AFTER_DB_COMMIT)

    # ACCOUNT_STATE -> the newest state of each account, the projection services share.
    subscribe_account_states(broker, settings, pool)
