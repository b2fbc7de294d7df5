"""Kafka plumbing for tests: publish as the services do, read what they publish, wait on groups.

Topics are shared by every test of a run and by every run (``make test`` has servers of its
own, but external ones may be shared with anything), so nothing here reads a topic from its
beginning: readers start at the topic's current end, and consumer groups can be committed there
before a service starts. When a test ends, every consumer group it started is moved to the end
of the topics (``move_groups_to_end``): a test leaves no lag behind, and nothing a later reader
of that group would have to wade through.

The fixtures (``producer``, ``publish``, ``tail``, ``consumer_group``) reach every test through
the ``tally`` plugin; the functions are imported from here.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from tally_contracts.topics import ALL_TOPICS

from tally_testkit.polling import eventually


class Event(Protocol):
    """A contract event: a pydantic model that names its account."""

    @property
    def account_sid(self) -> object: ...

    def model_dump_json(self) -> str: ...


Publish = Callable[[str, Event], Awaitable[RecordMetadata]]
"""``await publish(topic, event)`` -> where it landed (topic, partition, offset)."""

Tail = Callable[[str], Awaitable[AIOKafkaConsumer]]
"""``await tail(topic)`` -> a reader of what is published on ``topic`` from now on."""

ReadKeyed = Callable[[str, int], Awaitable[list[ConsumerRecord[bytes, bytes]]]]
"""``await read(key, count)`` -> the first ``count`` records with that key."""

ConsumerGroup = Callable[[str], str]
"""``consumer_group("usage")`` -> a new group name of the test's own, moved to the end after."""

LEAVE_SECONDS = 15.0
"""How long a group's members may take to leave (a killed consumer's session runs out in 10 s)."""


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain Kafka producer, standing in for whatever publishes upstream of the test."""
    kafka = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    try:
        yield kafka
    finally:
        await kafka.stop()


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Publish:
    """Publish a contract event keyed by its account SID, as a service's outbox relay would."""

    async def send(topic: str, event: Event) -> RecordMetadata:
        return await producer.send_and_wait(
            topic,
            event.model_dump_json().encode(),
            key=str(event.account_sid).encode(),
            headers=[("content-type", b"application/json")],
        )

    return send


@pytest.fixture
async def tail(kafka_bootstrap: str) -> AsyncIterator[Tail]:
    """Readers of topics from their current end (see ``open_at_end``), stopped after the test."""
    readers: list[AIOKafkaConsumer] = []

    async def open_reader(topic: str) -> AIOKafkaConsumer:
        reader = await open_at_end(kafka_bootstrap, topic)
        readers.append(reader)
        return reader

    yield open_reader
    for reader in readers:
        await reader.stop()


@pytest.fixture
async def consumer_group(kafka_bootstrap: str) -> AsyncIterator[ConsumerGroup]:
    """Names for the test's consumer groups, each moved to the end of the topics when it ends.

    ``consumer_group("usage")`` -> ``test-usage-<hex>``: give it to a service's settings, a
    process's ``TALLY_<SERVICE>_CONSUMER_GROUP`` or a consumer. (A fixture whose value is a
    service's settings has its group moved anyway, see the ``tally`` plugin.)
    """
    made: list[str] = []

    def name(label: str) -> str:
        slug = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-")[:30] or "group"
        group = f"test-{slug}-{uuid.uuid4().hex[:12]}"
        made.append(group)
        return group

    yield name
    try:
        await move_groups_to_end(kafka_bootstrap, made)
    except Exception as exc:  # teardown must not fail a passed test; say what is left
        warnings.warn(f"consumer groups {made} left where they were: {exc}", stacklevel=1)


async def open_at_end(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started reader of every partition of ``topic``, placed after what is already there.

    "The end" is resolved before this returns, so whatever the test publishes afterwards is
    read. The topic must exist. The caller stops the reader.
    """
    partitions = (await _partitions(bootstrap, [topic])).get(topic)
    assert partitions, f"topic {topic} does not exist"
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(partitions)
        await reader.seek_to_end(*partitions)
        for partition in partitions:
            await reader.position(partition)  # resolve "the end" now, not at the first fetch
    except BaseException:
        await reader.stop()
        raise
    return reader


def by_key(reader: AIOKafkaConsumer, within: float = 30.0) -> ReadKeyed:
    """Read ``reader``'s records by key: ``await read(key, count)``, the first ``count``.

    Records of every key are kept, so one read may serve the next. A read fails, saying how
    many arrived, when ``count`` have not after ``within`` seconds.
    """
    seen: list[ConsumerRecord[bytes, bytes]] = []

    async def read(key: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
        deadline = time.monotonic() + within
        while len(found := [r for r in seen if r.key == key.encode()]) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} records keyed {key} arrived")
            batches = await reader.getmany(timeout_ms=500)
            seen.extend(record for records in batches.values() for record in records)
        return found[:count]

    return read


async def wait_committed(
    bootstrap: str, group: str, record: RecordMetadata, within: float = 30.0
) -> None:
    """Wait until consumer group ``group`` has committed past ``record`` (a ``send_and_wait``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partition = TopicPartition(record.topic, record.partition)

        def past(committed: Any) -> bool:
            return committed is not None and bool(committed > record.offset)

        await eventually(lambda: consumer.committed(partition), past, within)
    finally:
        await consumer.stop()


async def commit_groups_at_end(
    bootstrap: str, groups: Iterable[str], topics: Iterable[str], within: float = LEAVE_SECONDS
) -> None:
    """Commit each consumer group at the current end of every one of ``topics`` that exists.

    A fresh group would otherwise read each topic's whole backlog (other tests', earlier runs',
    a developer's own traffic) before reaching what the test publishes. A topic that does not
    exist yet is left out: a group reading it from its beginning misses nothing and waits on
    nothing. Only a group without members takes a commit from outside: one whose members are
    still leaving is retried for ``within`` seconds.
    """
    partitions = [p for found in (await _partitions(bootstrap, topics)).values() for p in found]
    if not partitions:
        return
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        ends = await probe.end_offsets(partitions)
    finally:
        await probe.stop()
    for group_id in groups:
        await commit_offsets(bootstrap, group_id, ends, within)


async def move_groups_to_end(
    bootstrap: str, groups: Iterable[str], within: float = LEAVE_SECONDS
) -> None:
    """Move each group that ever ran to the end of Tally's topics and of every topic it read.

    For a test's own groups once it is done with them: a group that has never run is left
    alone (it has nothing to move), one with members still leaving is waited for.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        known = {row[0] for row in await admin.list_consumer_groups()}
        started = [group for group in dict.fromkeys(groups) if group in known]
        read = {
            group: {tp.topic for tp in await admin.list_consumer_group_offsets(group)}
            for group in started
        }
    finally:
        await admin.close()
    for group in started:
        topics = [*(spec.name for spec in ALL_TOPICS), *sorted(read[group])]
        await commit_groups_at_end(bootstrap, [group], topics, within)


async def group_exists(bootstrap: str, group: str) -> bool:
    """True when the broker knows consumer group ``group`` (it has run, or holds offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return group in {row[0] for row in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def commit_offsets(
    bootstrap: str, group_id: str, offsets: dict[TopicPartition, int], within: float = 30.0
) -> None:
    """Commit `offsets` for a group from outside (it must have no member: retried meanwhile)."""
    deadline = time.monotonic() + within
    while True:
        group = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
        )
        await group.start()
        try:
            group.assign(list(offsets))
            await group.commit(dict(offsets))
            return
        except KafkaError as error:
            # The broker takes commits from outside a group only while it has no member.
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"consumer group {group_id} still has members after {within} s: {error!r}"
                ) from error
        finally:
            await group.stop()
        await asyncio.sleep(0.5)


async def _partitions(bootstrap: str, topics: Iterable[str]) -> dict[str, list[TopicPartition]]:
    """The partitions of each of ``topics`` that exists (the broker creates none on asking)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [topic for topic in dict.fromkeys(topics) if topic in existing]
        descriptions = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return {
        d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
        for d in descriptions
    }
