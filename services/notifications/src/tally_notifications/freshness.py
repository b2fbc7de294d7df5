"""The read barrier: proof that the account-state projection is caught up before deciding.

A decision may only use an account's billing mode once the projection has applied every
record of `accounts.state.v1` that was in the account's partition when the decision is taken:
the partition's end offset is read from Kafka *after* the trigger was consumed, and compared
with the offsets the projection recorded in its own transactions. Behind, or Kafka not
answering in time: the decision is deferred, never guessed (docs/notifications.md).
"""

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS
from tally_runtime.database import Connection
from tally_runtime.kafka import partition_by_key

from tally_notifications import accounts_repository

END_OFFSETS_TIMEOUT_SECONDS = 2.0

_DEFAULT_PARTITIONS = next(spec.partitions for spec in ALL_TOPICS if spec.name == ACCOUNT_STATE)


class EndOffsets(Protocol):
    """Where the account-state topic ends now, for some of its partitions."""

    async def partition_count(self) -> int:
        """How many partitions the topic has."""
        ...

    async def __call__(self, partitions: Iterable[int]) -> Mapping[int, int]: ...


class KafkaEndOffsets:
    """The end offsets as the broker reports them, from one client kept for the process."""

    def __init__(self, bootstrap: str, topic: str = ACCOUNT_STATE) -> None:
        self.topic = topic
        self._partitions: int | None = None
        self._bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._starting = asyncio.Lock()

    async def partition_count(self) -> int:
        """How many partitions the topic has, asked of the broker until it knows the topic."""
        consumer = await self._started()
        if self._partitions is None:
            # What `consumer.topics()` asks for, kept: the consumer's own metadata only covers
            # the topics it subscribes to, and this one reads without subscribing.
            cluster = await consumer._client.fetch_all_metadata()
            self._partitions = len(cluster.partitions_for_topic(self.topic) or ()) or None
            if self._partitions is None:
                return _DEFAULT_PARTITIONS  # not created yet: as every service creates it
        return self._partitions

    async def __call__(self, partitions: Iterable[int]) -> Mapping[int, int]:
        """The next offset to be written in each of `partitions`."""
        consumer = await self._started()
        wanted = [TopicPartition(self.topic, partition) for partition in partitions]
        ends = await consumer.end_offsets(wanted)
        return {tp.partition: offset for tp, offset in ends.items()}

    async def _started(self) -> AIOKafkaConsumer:
        async with self._starting:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    client_id="tally-notifications-barrier",
                    enable_auto_commit=False,
                    isolation_level="read_committed",
                )
                await consumer.start()
                self._consumer = consumer
            return self._consumer

    async def close(self) -> None:
        """Close the client, if it was opened."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


def partition_of(account_sid: str, partitions: int) -> int:
    """The partition of `accounts.state.v1` holding the account's states (its key's)."""
    every = list(range(partitions))
    return partition_by_key(account_sid.encode(), every, every)


async def stale_accounts(
    conn: Connection, sids: Iterable[str], end_offsets: EndOffsets
) -> dict[str, str]:
    """The accounts among `sids` whose state is not proven the newest published, and why."""
    sids = set(sids)
    if not sids:
        return {}
    by_partition: dict[int, list[str]] = {}
    try:
        async with asyncio.timeout(END_OFFSETS_TIMEOUT_SECONDS):
            count = await end_offsets.partition_count()
            for sid in sids:
                by_partition.setdefault(partition_of(sid, count), []).append(sid)
            ends = await end_offsets(by_partition)
    except Exception as error:  # any failure to learn the end is a failure to prove freshness
        reason = f"the account-state topic's end could not be read ({type(error).__name__})"
        return dict.fromkeys(sids, reason)
    applied = await accounts_repository.applied_offsets(conn, by_partition)
    stale: dict[str, str] = {}
    for partition, group in by_partition.items():
        done, end = applied.get(partition, 0), ends.get(partition)
        if end is None or done < end:
            reason = (
                f"the account-state projection is behind (partition {partition}:"
                f" applied {done} of {end})"
            )
            stale.update(dict.fromkeys(group, reason))
    return stale
