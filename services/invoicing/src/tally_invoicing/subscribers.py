"""Invoicing's Kafka entry points: the topic -> handler map, in one place."""

import asyncpg
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tally_contracts.accounts import AccountState
from tally_contracts.topics import ACCOUNT_STATE, USAGE_RECORDED
from tally_contracts.usage import UsageRecorded
from tally_runtime.consuming import exactly_once, parse_or_skip
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed

from tally_invoicing import handlers
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.domain import Clock


def register_subscribers(
    broker: KafkaBroker, *, settings: InvoicingSettings, pool: asyncpg.Pool, clock: Clock
) -> None:
    """Subscribe invoicing's handlers; call before the broker starts."""

    @exactly_once(broker, USAGE_RECORDED, settings)
    async def on_usage_recorded(msg: KafkaMessage) -> None:
        if usage := parse_or_skip(UsageRecorded, msg):
            await handlers.charge_usage(usage, pool=pool, clock=clock)
        crash_if_armed(settings, AFTER_DB_COMMIT)

    @exactly_once(broker, ACCOUNT_STATE, settings)
    async def on_account_state(msg: KafkaMessage) -> None:
        if state := parse_or_skip(AccountState, msg):
            await handlers.record_account_state(state, pool=pool)
        crash_if_armed(settings, AFTER_DB_COMMIT)
