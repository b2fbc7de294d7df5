"""A consumer killed between its database commit and its offset commit loses and doubles nothing.

The failpoint makes the process SIGKILL itself right after the transaction that applied a
message committed, before Kafka learns the offset: on restart the message is delivered again.
"""

import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from tally_contracts.topics import USAGE_EVENTS, USAGE_RECORDED
from tally_runtime.failpoints import AFTER_DB_COMMIT, armed
from tally_testkit import Tail, by_key, eventually

from tests.e2e.system import System
from tests.e2e.test_exactly_once import charges, publish, receipt, usage_event, usage_summary

CONSUMED_TOPIC = {"usage": USAGE_EVENTS, "invoicing": USAGE_RECORDED}
# What each consumer writes per message; read from its database while the process is dead.
ROWS_WRITTEN = {
    "usage": "SELECT count(*) FROM usage_events WHERE account_sid = $1",
    "invoicing": "SELECT count(*) FROM charges WHERE account_sid = $1",
}


async def rows_written(system: System, consumer: str, sid: str) -> int:
    connection = await asyncpg.connect(system.databases[consumer])
    try:
        return int(await connection.fetchval(ROWS_WRITTEN[consumer], sid))
    finally:
        await connection.close()


async def committed_offset(system: System, consumer: str, record: ConsumerRecord[Any, Any]) -> int:
    """The offset the consumer's group has committed on the record's partition (-1: none)."""
    group = AIOKafkaConsumer(
        bootstrap_servers=system.kafka_bootstrap,
        group_id=system.consumer_group(consumer),
        enable_auto_commit=False,
    )
    await group.start()
    try:
        committed = await group.committed(TopicPartition(record.topic, record.partition))
    finally:
        await group.stop()
    return -1 if committed is None else int(committed)


@pytest.mark.parametrize("consumer", ["usage", "invoicing"])
async def test_given_a_consumer_killed_after_db_commit_then_restarted_no_total_changes(
    consumer: str,
    system: System,
    producer: AIOKafkaProducer,
    http: httpx.AsyncClient,
    tail: Tail,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    sid = (await create_account())["sid"]
    consumed = by_key(await tail(CONSUMED_TOPIC[consumer]))

    async def invoicing_knows_account() -> int:
        return (await http.get(f"{system.url('invoicing')}/accounts/{sid}")).status_code

    # Arm the failpoint only once the account's creation has been consumed, so the crash
    # happens on the usage below and not on the account's state.
    await eventually(invoicing_knows_account, lambda status: status == 200)
    system.stop(consumer)
    system.start(consumer, failpoint=armed(AFTER_DB_COMMIT, CONSUMED_TOPIC[consumer]))

    crashed_on = usage_event(sid, quantity="7")
    await publish(producer, sid, json.dumps(crashed_on).encode())
    assert await system.wait_exit(consumer) == -signal.SIGKILL
    # Killed after its commit (the row is there), yet Kafka still holds the record as
    # unconsumed (the group's offset is not past it): the record will be delivered again.
    assert await rows_written(system, consumer, sid) == 1
    [first] = await consumed(sid, 1)
    assert await committed_offset(system, consumer, first) <= first.offset

    system.start(consumer)
    await publish(producer, sid, json.dumps(usage_event(sid, quantity="5")).encode())

    # The second event sits behind the redelivered first one on the account's partition.
    billed = await eventually(
        lambda: charges(http, system, sid), lambda found: len(found["charges"]) >= 2
    )
    summary = await usage_summary(http, system, sid)
    assert summary["events"] == 2
    assert summary["quantity_by_category"] == {"calls-outbound": "12"}
    assert len(billed["charges"]) == 2
    assert billed["total"] == "0.168"  # 12 minutes x 0.014 USD
    # The record delivered again was recognised as the same record, not as a producer's repeat.
    assert (await receipt(http, system, sid, crashed_on["event_id"]))["duplicates"] == 0
