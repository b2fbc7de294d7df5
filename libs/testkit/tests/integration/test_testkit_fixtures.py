"""The testkit's fixtures and Kafka helpers against the real servers (infra.sh up, or Docker)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from tally_contracts.topics import ACCOUNT_STATE, ALL_TOPICS
from tally_testkit import NewDatabase, Publish, Tail, by_key, commit_groups_at_end, wait_committed


async def test_new_database_gives_each_caller_its_own_empty_database(
    new_database: NewDatabase,
) -> None:
    # given two databases made for the same label
    first_url = await new_database("Usage Service")
    second_url = await new_database("Usage Service")
    assert first_url != second_url

    # when a table is written in the first
    first = await asyncpg.connect(first_url)
    try:
        name = await first.fetchval("SELECT current_database()")
        await first.execute("CREATE TABLE events (id text PRIMARY KEY)")
        await first.execute("INSERT INTO events VALUES ('e1')")
        assert await first.fetchval("SELECT count(*) FROM events") == 1
    finally:
        await first.close()

    # then its name says what it is for, and the second database does not see the table
    assert name.startswith("test_usage_service_")
    second = await asyncpg.connect(second_url)
    try:
        assert await second.fetchval("SELECT to_regclass('events')") is None
    finally:
        await second.close()


async def test_kafka_bootstrap_gives_every_tally_topic_with_its_settings(
    kafka_bootstrap: str,
) -> None:
    # given the broker the fixture hands out (it creates no topic on first use)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        # when its topics and the account-state topic's clean-up policy are read
        topics = {t["topic"]: t for t in await admin.describe_topics([s.name for s in ALL_TOPICS])}
        [described] = (
            await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, ACCOUNT_STATE)])
        )[0].resources
    finally:
        await admin.close()

    # then every topic exists with its partitions, and account state is compacted
    for spec in ALL_TOPICS:
        assert topics[spec.name]["error_code"] == 0, spec.name
        assert len(topics[spec.name]["partitions"]) == spec.partitions
    config = {entry[0]: entry[1] for entry in described[4]}
    assert config["cleanup.policy"] == "compact"


@pytest.fixture
async def scratch_topic(kafka_bootstrap: str, producer: AIOKafkaProducer) -> AsyncIterator[str]:
    """A topic of this test's own, 2 partitions holding one old record each; deleted after."""
    topic = f"testkit.scratch.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
        for partition in range(2):
            await producer.send_and_wait(topic, b"old", key=b"AC1", partition=partition)
        yield topic
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_tail_reads_only_what_is_published_after_it_opened_by_key(
    scratch_topic: str, producer: AIOKafkaProducer, tail: Tail
) -> None:
    # given a topic that already holds records
    topic = scratch_topic

    # when a reader opens at its end and records of two keys follow
    read = by_key(await tail(topic))
    await producer.send_and_wait(topic, b"new-1", key=b"AC1")
    await producer.send_and_wait(topic, b"other", key=b"AC2")
    await producer.send_and_wait(topic, b"new-2", key=b"AC1")

    # then each key's new records are read, in order, and none of the old ones
    assert [r.value for r in await read("AC1", 2)] == [b"new-1", b"new-2"]
    assert [r.value for r in await read("AC2", 1)] == [b"other"]
    with pytest.raises(AssertionError, match="0 of 1 records keyed AC3 arrived"):
        await by_key(await tail(topic), within=0.5)("AC3", 1)


async def test_publish_keys_an_event_by_its_account_and_marks_it_json(
    scratch_topic: str, tail: Tail, publish: Publish
) -> None:
    topic = scratch_topic
    read = by_key(await tail(topic))

    sent = await publish(topic, _Event(account_sid="AC7"))

    [record] = await read("AC7", 1)
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert record.value == b'{"account_sid": "AC7"}'
    assert list(record.headers) == [("content-type", b"application/json")]


async def test_a_group_committed_at_the_end_skips_the_backlog_and_wait_committed_sees_it_move(
    kafka_bootstrap: str, producer: AIOKafkaProducer, scratch_topic: str
) -> None:
    # given a topic with a backlog, and a group committed at its end (a missing topic is skipped)
    topic = scratch_topic
    group = f"testkit-{uuid.uuid4().hex}"
    await commit_groups_at_end(kafka_bootstrap, [group], [topic, f"testkit.none.{group}"])

    # when the group consumes and commits what is published next
    sent = await producer.send_and_wait(topic, b"new", key=b"AC1")
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
    finally:
        await consumer.stop()

    # then it read the new record first, not the backlog, and its commit is seen past it
    assert message.value == b"new"
    await wait_committed(kafka_bootstrap, group, sent, within=10)


class _Event:
    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid

    def model_dump_json(self) -> str:
        return json.dumps({"account_sid": self.account_sid})
