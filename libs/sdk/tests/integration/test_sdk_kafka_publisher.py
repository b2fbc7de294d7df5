"""KafkaUsagePublisher on a real broker: records as CONTRACTS.md §1 says, acks where they landed.

It publishes to a topic of the test's own (the shared `usage.events.v1` feeds any Tally
running on this broker); the end-to-end tests publish to the real topic.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from tally_contracts.usage import parse_usage_event
from tally_sdk import AckStatus, KafkaUsagePublisher
from tally_testkit import Tail, by_key


@pytest.fixture
async def usage_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic shaped like `usage.events.v1` (several partitions), deleted afterwards."""
    name = f"test.sdk-usage.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def events(sid: str, count: int) -> list[dict[str, object]]:
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return [
        {
            "event_id": f"k-{n}",
            "account_sid": sid,
            "category": "calls-outbound",
            "quantity": "0.5",
            "occurred_at": occurred,
        }
        for n in range(count)
    ]


async def test_records_are_keyed_by_account_with_the_contract_json_and_acked_in_order(
    kafka_bootstrap: str, usage_topic: str, tail: Tail
) -> None:
    sid = "AC" + uuid.uuid4().hex
    reader = await tail(usage_topic)
    sent = events(sid, 50)
    sent[7]["quantity"] = "1e3"  # not a plain decimal: refused here, never published
    async with KafkaUsagePublisher(kafka_bootstrap, topic=usage_topic) as publisher:
        acks = await publisher.send(sent)

    assert acks[7].status is AckStatus.INVALID and acks[7].field == "quantity"
    published = [a for a in acks if a.status is AckStatus.ACCEPTED]
    assert len(published) == 49
    assert len({a.partition for a in published}) == 1  # one account, one partition
    offsets = [a.offset for a in published]
    assert offsets == sorted(offsets) and len(set(offsets)) == 49

    records = await by_key(reader)(sid, 49)
    assert [r.offset for r in records] == offsets
    assert {r.partition for r in records} == {published[0].partition}
    assert {r.key for r in records} == {sid.encode()}
    assert all(dict(r.headers) == {"content-type": b"application/json"} for r in records)
    read_back = [parse_usage_event(r.value) for r in records]
    assert [e.event_id for e in read_back] == [a.event_id for a in published]
    assert b'"quantity":"0.5"' in records[0].value


async def test_a_resend_publishes_the_same_bytes(
    kafka_bootstrap: str, usage_topic: str, tail: Tail
) -> None:
    sid = "AC" + uuid.uuid4().hex
    reader = await tail(usage_topic)
    async with KafkaUsagePublisher(kafka_bootstrap, topic=usage_topic) as publisher:
        sent = events(sid, 2)
        await publisher.send(sent)
        await publisher.send(sent)
    first, second, again_first, again_second = await by_key(reader)(sid, 4)
    assert (first.value, second.value) == (again_first.value, again_second.value)
