"""A consumer killed between its database commit and its offset commit loses and doubles nothing.

The failpoint makes the process SIGKILL itself right after the transaction that applied a
message committed, before Kafka learns the offset: on restart the message is delivered again.
"""

import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from tally_runtime.failpoints import AFTER_DB_COMMIT
from tally_testkit import eventually

from tests.e2e.system import System
from tests.e2e.test_exactly_once import charges, publish, usage_event, usage_summary


@pytest.mark.parametrize("consumer", ["usage", "invoicing"])
async def test_given_a_consumer_killed_after_db_commit_then_restarted_no_total_changes(
    consumer: str,
    system: System,
    producer: AIOKafkaProducer,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    sid = (await create_account())["sid"]

    async def invoicing_knows_account() -> int:
        return (await http.get(f"{system.url('invoicing')}/accounts/{sid}")).status_code

    # Arm the failpoint only once the account's creation has been consumed, so the crash
    # happens on the usage below and not on the account's state.
    await eventually(invoicing_knows_account, lambda status: status == 200)
    system.stop(consumer)
    system.start(consumer, failpoint=AFTER_DB_COMMIT)

    await publish(producer, sid, json.dumps(usage_event(sid, quantity="7")).encode())
    assert await system.wait_exit(consumer) == -signal.SIGKILL

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
