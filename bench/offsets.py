"""Where each topic ends, how far each consumer group has committed, and what usage published.

A group's committed offset on a topic counts the records its service has finished: the usage
service commits only after the database transaction holding the event (and its outbox row)
committed, so the committed offsets are a faithful count of events done, without touching the
service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tally_contracts.topics import ALL_TOPICS, USAGE_EVENTS, USAGE_RECORDED
from tally_runtime.kafka import ensure_topics
from tally_runtime.settings import ServiceSettings
from tally_testkit.kafka import commit_groups_at_end

Offsets = dict[int, int]
"""Partition -> offset, for one topic."""


@dataclass(frozen=True)
class Sample:
    """One reading, once a second: totals over every partition."""

    t: float
    """Seconds since the watch started."""
    usage_end: int
    usage_done: int
    """The usage group's committed offsets on `usage.events.v1`."""
    usage_lags: list[int]
    """Usage's lag on each partition: one stuck partition must not pass for a full topic."""
    recorded_end: int
    """End of `usage.recorded.v1` (this run's usage publishes there, and so may others)."""
    rated_done: int
    """The invoicing group's committed offsets on `usage.recorded.v1`."""
    outbox_pending: int | None
    """Rows in usage's outbox, waiting for its relay (which deletes them once Kafka acknowledged
    them). None while usage's database has no outbox yet."""

    @property
    def usage_lag(self) -> int:
        return self.usage_end - self.usage_done

    @property
    def usage_published(self) -> int | None:
        """Events usage stored and its relay published: what its group finished (committed
        after the database commit) less the outbox rows still waiting to be published."""
        return None if self.outbox_pending is None else self.usage_done - self.outbox_pending

    @property
    def rating_lag(self) -> int:
        return self.recorded_end - self.rated_done


async def prepare(bootstrap: str, groups: list[str]) -> None:
    """Create missing topics; commit fresh groups at the topics' ends (skip others' backlog)."""
    await ensure_topics(ServiceSettings(kafka_bootstrap=bootstrap), ALL_TOPICS)
    await commit_groups_at_end(bootstrap, groups, [topic.name for topic in ALL_TOPICS])


class OffsetWatch:
    """Reads end offsets and two groups' committed offsets; `await sample()` once a second."""

    def __init__(
        self, bootstrap: str, usage_group: str, invoicing_group: str, usage_database_url: str
    ) -> None:
        self.bootstrap = bootstrap
        self.usage_database_url = usage_database_url
        self.usage_db: asyncpg.Connection | None = None
        self.usage_group = usage_group
        self.invoicing_group = invoicing_group
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        self.reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.partitions: dict[str, list[TopicPartition]] = {}
        self.started = time.monotonic()

    async def __aenter__(self) -> OffsetWatch:
        await self.admin.start()
        await self.reader.start()
        try:
            for described in await self.admin.describe_topics([USAGE_EVENTS, USAGE_RECORDED]):
                topic, found = described["topic"], described["partitions"]
                if not found:
                    raise RuntimeError(f"topic {topic} has no partitions")
                numbers = sorted(p["partition"] for p in found)
                self.partitions[topic] = [TopicPartition(topic, p) for p in numbers]
        except BaseException:
            await self.__aexit__()
            raise
        self.started = time.monotonic()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.usage_db is not None:
            await self.usage_db.close()
        await self.reader.stop()
        await self.admin.close()

    async def outbox_pending(self) -> int | None:
        """Rows waiting in usage's outbox; None before its database has one."""
        if self.usage_db is None:
            self.usage_db = await asyncpg.connect(self.usage_database_url, timeout=10)
        try:
            return int(await self.usage_db.fetchval("SELECT count(*) FROM outbox"))
        except asyncpg.UndefinedTableError:
            return None

    async def ends(self, topic: str) -> Offsets:
        ends = await self.reader.end_offsets(self.partitions[topic])
        return {tp.partition: int(offset) for tp, offset in ends.items()}

    async def committed(self, group: str, topic: str) -> Offsets:
        found = await self.admin.list_consumer_group_offsets(
            group, partitions=self.partitions[topic]
        )
        return {tp.partition: int(meta.offset) for tp, meta in found.items() if meta.offset >= 0}

    async def sample(self) -> Sample:
        t = time.monotonic() - self.started
        usage_end = await self.ends(USAGE_EVENTS)
        usage_done = await self.committed(self.usage_group, USAGE_EVENTS)
        return Sample(
            t=round(t, 3),
            usage_end=sum(usage_end.values()),
            usage_done=sum(usage_done.values()),
            usage_lags=[end - usage_done.get(p, end) for p, end in sorted(usage_end.items())],
            recorded_end=sum((await self.ends(USAGE_RECORDED)).values()),
            rated_done=sum((await self.committed(self.invoicing_group, USAGE_RECORDED)).values()),
            outbox_pending=await self.outbox_pending(),
        )
