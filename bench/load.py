"""Valid usage events, pre-serialised and published fast: the load every measurement reads.

Each event is keyed by its account SID (the key must equal `account_sid`) and lands on the
partition the default partitioner gives that key, exactly where the gateway would put it.
Events are written straight into per-partition record batches, so a single Python process
can publish far faster than the pipeline consumes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE, USAGE_EVENTS

HEADERS = [("content-type", b"application/json")]
CATEGORIES = (
    ("calls-inbound", "2.5"),
    ("calls-outbound", "1.25"),
    ("sms-inbound", "1"),
    ("sms-outbound", "1"),
)
MAX_BATCH_BYTES = 512 * 1024
IN_FLIGHT = 64
"""Record batches awaiting their ack before the publisher waits (bounds its memory)."""


@dataclass(frozen=True)
class Account:
    sid: str
    key: bytes
    partition: int


def new_accounts(count: int, partitions: int) -> list[Account]:
    """`count` fresh account SIDs and the partition each one's events go to."""
    all_partitions = list(range(partitions))
    accounts = []
    for _ in range(count):
        sid = "AC" + uuid.uuid4().hex
        key = sid.encode()
        accounts.append(Account(sid, key, DefaultPartitioner()(key, all_partitions, None)))
    return accounts


def new_producer(bootstrap: str, linger_ms: int = 50) -> AIOKafkaProducer:
    """A producer for the load: every replica acknowledges, as the services' own producers."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_BYTES,
        request_timeout_ms=30_000,
    )


async def publish_account_states(producer: AIOKafkaProducer, accounts: list[Account]) -> None:
    """Make the bench's accounts known to every service, as the accounts service would."""
    now = datetime.now(UTC)
    pending = []
    for account in accounts:
        state = AccountState(
            event_id=f"account:{account.sid}:v1",
            occurred_at=now,
            account_sid=account.sid,
            version=1,
            owner="bench",
            friendly_name="bench",
            time_zone="America/Chicago",
            status=AccountStatus.ACTIVE,
            billing_mode=BillingMode.PAY_AS_YOU_GO,
        )
        value = state.model_dump_json().encode()
        pending.append(await producer.send(ACCOUNT_STATE, value, key=account.key, headers=HEADERS))
    await asyncio.wait_for(asyncio.gather(*pending), timeout=60)


class UsageLoad:
    """Publishes distinct valid usage events over `accounts`, round robin, in record batches."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        accounts: list[Account],
        run_tag: str,
        topic: str = USAGE_EVENTS,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.accounts = accounts
        self.run_tag = run_tag
        self.sequence = 0
        self.published = 0
        # A minute ago: valid whatever the clock does during the run (5 minutes' skew allowed).
        occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        self.occurred_at = occurred.isoformat().replace("+00:00", "Z")

    def value(self, account: Account, event_id: str, sequence: int) -> bytes:
        category, quantity = CATEGORIES[sequence % len(CATEGORIES)]
        return (
            f'{{"event_id":"{event_id}","account_sid":"{account.sid}","category":"{category}",'
            f'"quantity":"{quantity}","occurred_at":"{self.occurred_at}"}}'
        ).encode()

    async def publish(self, count: int, *, prefix: str = "e", wait: bool = True) -> list[Any]:
        """Publish `count` new events; their ids are `<prefix>-<run tag>-<n>`.

        Returns the pending acks of the batches (already awaited when `wait`).
        """
        batches: dict[int, Any] = {}
        pending: list[Awaitable[Any]] = []
        for _ in range(count):
            sequence = self.sequence
            self.sequence += 1
            account = self.accounts[sequence % len(self.accounts)]
            event_id = f"{prefix}-{self.run_tag}-{sequence}"
            value = self.value(account, event_id, sequence)
            batch = batches.get(account.partition)
            if batch is None:
                batch = batches[account.partition] = self.producer.create_batch()
            if batch.append(key=account.key, value=value, timestamp=None, headers=HEADERS) is None:
                pending.append(await self._send(batch, account.partition))
                batch = batches[account.partition] = self.producer.create_batch()
                batch.append(key=account.key, value=value, timestamp=None, headers=HEADERS)
            if len(pending) >= IN_FLIGHT:
                await asyncio.wait_for(asyncio.gather(*pending), timeout=60)
                pending.clear()
        for partition, batch in batches.items():
            pending.append(await self._send(batch, partition))
        self.published += count
        if wait:
            await asyncio.wait_for(asyncio.gather(*pending), timeout=60)
        return pending

    async def _send(self, batch: Any, partition: int) -> Any:
        return await self.producer.send_batch(batch, self.topic, partition=partition)

    def last_id(self, prefix: str = "e") -> tuple[str, str]:
        """(account SID, event id) of the event published last."""
        sequence = self.sequence - 1
        account = self.accounts[sequence % len(self.accounts)]
        return account.sid, f"{prefix}-{self.run_tag}-{sequence}"
