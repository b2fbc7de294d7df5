"""The accounts service's topic -> handler map."""

import asyncpg
from faststream.kafka import KafkaBroker

from tally_accounts.config import Settings


def register_subscribers(broker: KafkaBroker, *, pool: asyncpg.Pool, settings: Settings) -> None:
    """Subscribe the handlers to their topics; none yet.

    Balance events (to suspend pay-as-you-go accounts) will be mapped here, under
    `settings.consumer_group`, with the inbox and outbox sharing the handler's transaction.
    """
