"""The testkit's fixtures and Kafka helpers against the real servers (infra.sh up, or Docker)."""

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
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


INNER_SESSION = """
import pytest
from aiokafka import AIOKafkaConsumer
from tally_runtime.settings import ServiceSettings

@pytest.fixture
async def settings(kafka_bootstrap):
    return ServiceSettings(kafka_bootstrap=kafka_bootstrap, consumer_group={settings_group!r})

async def test_reads_the_first_record_in_each_group(kafka_bootstrap, settings, consumer_group):
    named = consumer_group("probe")
    open({named_file!r}, "w").write(named)
    for group in (settings.consumer_group, named):
        consumer = AIOKafkaConsumer(
            {topic!r}, bootstrap_servers=kafka_bootstrap, group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await consumer.getone()
            await consumer.commit()
        finally:
            await consumer.stop()
"""


async def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset on each partition of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def run_inner_session(tmp_path: Path, **names: str) -> subprocess.CompletedProcess[str]:
    """Run a pytest session of its own (the tally plugin loads as in any run) over one test."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )
    (tmp_path / "test_inner.py").write_text(INNER_SESSION.format(**names))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    return await asyncio.to_thread(
        subprocess.run, command, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


async def test_given_a_test_that_consumed_in_its_groups_when_it_ends_then_they_are_at_the_end(
    kafka_bootstrap: str, producer: AIOKafkaProducer, scratch_topic: str, tmp_path: Path
) -> None:
    # given a topic with 3 records on partition 0 (one old, two new) and 1 on partition 1
    topic = scratch_topic
    for value in (b"second", b"third"):
        await producer.send_and_wait(topic, value, key=b"AC1", partition=0)
    settings_group = f"testkit-settings-{uuid.uuid4().hex}"
    named_file = tmp_path / "named-group"

    # when a test reads one record in its settings' group and in a consumer_group() group,
    # commits, and ends
    inner = await run_inner_session(
        tmp_path, topic=topic, settings_group=settings_group, named_file=str(named_file)
    )
    assert inner.returncode == 0, inner.stdout + inner.stderr

    # then both groups sit at the end of every partition: nothing left for them to read
    for group in (settings_group, named_file.read_text()):
        assert await committed(kafka_bootstrap, group, topic) == {0: 3, 1: 1}, group


async def test_given_a_group_that_existed_before_the_test_when_the_test_ends_then_it_is_left_alone(
    kafka_bootstrap: str, scratch_topic: str, tmp_path: Path
) -> None:
    # given a group someone else already runs, committed at the start of the topic
    topic = scratch_topic
    theirs = f"testkit-theirs-{uuid.uuid4().hex}"
    partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    await _commit_at(kafka_bootstrap, theirs, dict.fromkeys(partitions, 0))

    # when a test's settings name that group, and the test reads one record in it and ends
    inner = await run_inner_session(
        tmp_path, topic=topic, settings_group=theirs, named_file=str(tmp_path / "named")
    )
    assert inner.returncode == 0, inner.stdout + inner.stderr

    # then the group is where the test's own reading left it, not moved to the end
    assert sorted((await committed(kafka_bootstrap, theirs, topic)).values()) == [0, 1]


async def _commit_at(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


class _Event:
    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid

    def model_dump_json(self) -> str:
        return json.dumps({"account_sid": self.account_sid})
