"""The unit of work a batch handler gets: one transaction, its outbox and the clock."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel

from tally_runtime.clock import Clock
from tally_runtime.database import Connection
from tally_runtime.outbox import Outbox
from tally_runtime.records import ConsumedRecord


@dataclass
class UnitOfWork:
    """What a handler may touch while the engine holds its transaction open.

    The handler reads and writes through `conn` and announces facts with `publish`; the engine
    begins, writes the outbox, commits and only then commits the Kafka offsets. A handler
    never opens its own transaction.
    """

    conn: Connection
    clock: Clock
    outbox: Outbox = field(default_factory=Outbox)
    record_traces: Mapping[int, str] = field(default_factory=dict)
    """The traceparent of each sampled record's span, by `id(record)`."""

    def publish(
        self, topic: str, key: str, event: BaseModel, *, cause: ConsumedRecord | None
    ) -> None:
        """Publish `event` after the commit, in the trace of the record that caused it."""
        traceparent = None
        if cause is not None:
            traceparent = self.record_traces.get(id(cause), cause.traceparent)
        self.outbox.add(topic, key, event, traceparent)
