"""The remembered partitioner sends every key where Kafka's default partitioner would."""

import uuid

from aiokafka.partitioner import DefaultPartitioner
from tally_runtime.kafka import partition_by_key


def test_given_account_keys_then_each_lands_on_the_default_partitioners_choice() -> None:
    partitions = list(range(8))
    for _ in range(500):
        key = ("AC" + uuid.uuid4().hex).encode()
        expected = DefaultPartitioner()(key, partitions, partitions)
        assert partition_by_key(key, partitions, partitions) == expected
        assert partition_by_key(key, partitions, partitions) == expected  # remembered


def test_given_no_key_then_any_available_partition_may_take_it() -> None:
    assert partition_by_key(None, [0, 1, 2], [1]) == 1
