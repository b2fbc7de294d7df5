"""Kafka plumbing: a producer that keeps order, and the topics created with the right settings."""

import functools
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    OutOfOrderSequenceNumber,
    TopicAlreadyExistsError,
    UnknownProducerId,
    for_code,
)
from aiokafka.partitioner import DefaultPartitioner, murmur2
from tally_contracts.topics import TopicSpec

from tally_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

PRODUCER_OUT_OF_STEP = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
)
"""An idempotent producer whose sequence numbers the broker no longer accepts (seen after a
broker restart: OutOfOrderSequenceNumber on every send, forever). aiokafka does not reset them
by itself (the Java client bumps its epoch); a new producer, with a new producer id, starts
its sequences afresh. Whoever holds a producer replaces it on these."""


@functools.lru_cache(maxsize=100_000)
def _partition_index(key: bytes, partitions: int) -> int:
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def partition_by_key(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioner (murmur2 of the key, as Java clients), remembered per key.

    aiokafka hashes in pure Python, which costs more than the rest of a send; keys are
    account SIDs and repeat, so each is hashed once.
    """
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_partition_index(key, len(all_partitions))]


def make_producer(service_name: str, settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer whose sends wait for every in-sync replica and keep their order on retry.

    Idempotence makes the broker drop a retried batch it already has and keep one key's
    records in send order; lingering a few milliseconds fills batches at high rates.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"tally-{service_name}",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        partitioner=partition_by_key,
    )


async def ensure_topics(settings: ServiceSettings, specs: tuple[TopicSpec, ...]) -> None:
    """Create the missing topics; compacted ones keep only the latest value per key."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs={"cleanup.policy": "compact"} if spec.compacted else {},
            )
            for spec in specs
            if spec.name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                # Another replica creating the same topic first is fine; anything else is not.
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"could not create topic {name}")
    finally:
        await admin.close()
