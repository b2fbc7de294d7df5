"""Blocking wrappers for scripts without an event loop: each call runs one loop to the end."""

import asyncio
from collections.abc import Iterable
from typing import Any

from tally_sdk.acks import Ack
from tally_sdk.events import EventInput
from tally_sdk.http_client import Receipt, UsageClient
from tally_sdk.kafka_publisher import KafkaUsagePublisher


def send_usage(
    events: Iterable[EventInput],
    *,
    base_url: str,
    account_sid: str,
    auth_token: str,
    **options: Any,
) -> list[Ack]:
    """`UsageClient.send`, blocking (options as `UsageClient`'s)."""

    async def run() -> list[Ack]:
        async with UsageClient(base_url, account_sid, auth_token=auth_token, **options) as client:
            return await client.send(list(events))

    return asyncio.run(run())


def usage_receipts(
    event_ids: Iterable[str], *, base_url: str, account_sid: str, auth_token: str, **options: Any
) -> list[Receipt]:
    """`UsageClient.receipts`, blocking."""

    async def run() -> list[Receipt]:
        async with UsageClient(base_url, account_sid, auth_token=auth_token, **options) as client:
            return await client.receipts(list(event_ids))

    return asyncio.run(run())


def publish_usage(
    events: Iterable[EventInput], *, bootstrap_servers: str, **options: Any
) -> list[Ack]:
    """`KafkaUsagePublisher.send`, blocking (a producer started and stopped for the call)."""

    async def run() -> list[Ack]:
        async with KafkaUsagePublisher(bootstrap_servers, **options) as publisher:
            return await publisher.send(list(events))

    return asyncio.run(run())
