"""Invoicing's Kafka entry points: the topic -> handler map, in one place."""

import asyncpg
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tally_contracts.topics import USAGE_RECORDED
from tally_contracts.usage import UsageRecorded
from tally_runtime.account_states import subscribe_account_states
from tally_runtime.clock import Clock
from tally_runtime.consuming import exactly_once, parse_or_skip
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_invoicing import handlers
from tally_invoicing.config import InvoicingSettings


def register_subscribers(
    broker: KafkaBroker, *, settings: InvoicingSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe invoicing's handlers; call before the broker starts."""

    @exactly_once(broker, USAGE_RECORDED, settings)
    async def on_usage_recorded(msg: KafkaMessage) -> None:
        if usage := parse_or_skip(UsageRecorded, msg):
            await handlers.charge_usage(usage, pool=pool, clock=clock)
        crash_if_armed(settings, AFTER_DB_COMMIT)

    # ACCOUNT_STATE -> the newest state of each account, the projection services share.
    subscribe_account_states(broker, settings, pool)
