"""The crossings the notification-decision step measures: trial accounts driven across low and
depleted while a load runs, and when invoicing committed each crossing (see
`bench.notification_decisions`)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE, BALANCE_ALERTS, USAGE_EVENTS

from bench.load import HEADERS, Account, UsageLoad, new_producer

TICK_S = 0.05
BALANCES = "SELECT account_sid, balance FROM balances WHERE account_sid = ANY($1::text[])"
CREDITED = "SELECT count(*) FROM balances WHERE account_sid = ANY($1::text[]) AND balance > 0"
POLL_S = 0.01
LOW = Decimal("10.00")
"""A trial account's low-balance threshold."""


def usage_value(account: Account, event_id: str, minutes: int) -> bytes:
    occurred = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return (
        f'{{"event_id":"{event_id}","account_sid":"{account.sid}","category":"calls-outbound",'
        f'"quantity":"{minutes}","occurred_at":"{occurred}"}}'
    ).encode()


async def publish_trials(bootstrap: str, accounts: list[Account]) -> None:
    """The step's accounts as new trial accounts: invoicing credits each 15.00."""
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        now = datetime.now(UTC)
        pending = []
        for account in accounts:
            state = AccountState(
                event_id=f"account:{account.sid}:v1",
                occurred_at=now,
                account_sid=account.sid,
                version=1,
                owner="bench-notifications",
                friendly_name="bench",
                time_zone="America/Chicago",
                status=AccountStatus.ACTIVE,
                billing_mode=BillingMode.TRIAL,
                contact_email="bench@bench.example",  # without a recipient it is suppressed
            )
            value = state.model_dump_json().encode()
            pending.append(await producer.send(ACCOUNT_STATE, value, key=account.key))
        await asyncio.wait_for(asyncio.gather(*pending), timeout=60)
    finally:
        await producer.stop()


async def wait_credited(invoicing_db: str, sids: list[str], within: float) -> None:
    """Until invoicing has credited every account its trial credit."""
    deadline = time.monotonic() + within
    conn = await asyncpg.connect(invoicing_db)
    try:
        while (credited := await conn.fetchval(CREDITED, sids)) < len(sids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{credited} of {len(sids)} trial credits after {within} s")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def cross(bootstrap: str, accounts: list[Account], run_tag: str, spread_s: float) -> None:
    """Each account's two usage events (low, then depleted), spread evenly over `spread_s`."""
    producer = new_producer(bootstrap, linger_ms=0)
    await producer.start()
    try:
        steps = [(a, 400, "low") for a in accounts] + [(a, 700, "depleted") for a in accounts]
        began = time.monotonic()
        for n, (account, minutes, name) in enumerate(steps):
            due = began + spread_s * n / len(steps)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            event_id = f"nd-{run_tag}-{name}-{account.sid}"
            value = usage_value(account, event_id, minutes)
            await producer.send(USAGE_EVENTS, value, key=account.key, headers=HEADERS)
        await producer.flush()
    finally:
        await producer.stop()


async def background(load: UsageLoad, rate: float, stop: asyncio.Event) -> None:
    """Usage of the load's accounts at `rate` events/s until `stop`."""
    began, sent = time.monotonic(), 0
    while not stop.is_set():
        due = int((time.monotonic() - began) * rate) - sent
        if due > 0:
            await load.publish(due, prefix="nd-load", wait=False)
            sent += due
        await asyncio.sleep(TICK_S)


async def crossing_times(reader: AIOKafkaConsumer, sids: set[str], out: dict[str, float]) -> None:
    """Kafka timestamps (s) of the step's crossings, by event id, until cancelled."""
    while True:
        for records in (await reader.getmany(timeout_ms=500, max_records=5000)).values():
            for record in records:
                event = json.loads(record.value)
                if event.get("account_sid") in sids and event.get("type") == "balance.crossed":
                    out[event["event_id"]] = record.timestamp / 1000


async def watch_commits(
    invoicing_db: str, sids: list[str], out: dict[tuple[str, str], float], stop: asyncio.Event
) -> None:
    """When each account's `low` and `depleted` crossings were committed in invoicing.

    Polls the accounts' balances every `POLL_S`; a crossing first seen by one poll was
    committed after the previous poll began, and that instant is kept: a commit time at most
    one poll early, so the latency measured from it is at most one poll long.
    """
    conn = await asyncpg.connect(invoicing_db)
    try:
        previous, grace = time.time(), None
        while len(out) < 2 * len(sids):
            if stop.is_set():  # the decisions are in: only commits the poller missed are left
                grace = grace or time.monotonic() + 5
                if time.monotonic() > grace:
                    return
            began = time.time()
            outstanding = [sid for sid in sids if (sid, "depleted") not in out]
            for row in await conn.fetch(BALANCES, outstanding):
                for crossing, at_most in (("low", LOW), ("depleted", Decimal(0))):
                    if row["balance"] <= at_most:
                        out.setdefault((row["account_sid"], crossing), previous)
            previous = began
            await asyncio.sleep(POLL_S)
    finally:
        await conn.close()


async def open_alerts(bootstrap: str, producer: AIOKafkaProducer) -> AIOKafkaConsumer:
    """A reader of `balances.alerts.v1` from its current end."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    partitions = [
        TopicPartition(BALANCE_ALERTS, p) for p in await producer.partitions_for(BALANCE_ALERTS)
    ]
    reader.assign(partitions)
    await reader.seek_to_end(*partitions)
    for partition in partitions:
        await reader.position(partition)
    return reader
