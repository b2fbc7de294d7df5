"""Tracing a consumed batch at a cost that does not grow with the unsampled records.

One consumer span covers the batch. It continues the trace of the first sampled record (so a
sampled request is followed from the gateway through every hop, database spans included) and
links the other sampled records. Only sampled records get a span of their own; the events
they cause are published in that span's trace. Unsampled records cost one header check.
"""

import contextlib
from collections.abc import Sequence
from types import TracebackType

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import AttributeValue

from tally_runtime.records import TRACEPARENT, ConsumedRecord, is_sampled

tracer = trace.get_tracer(__name__)

MAX_LINKS = 128
"""Links kept on a batch span; a batch rarely holds more sampled records at 1 % sampling."""


def traceparent_of(span: Span) -> str:
    """The W3C `traceparent` that names `span` as the parent of what comes next."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


class BatchTrace(contextlib.AbstractContextManager["BatchTrace"]):
    """The batch's consumer span, current while the batch is applied, and its records' spans."""

    def __init__(self, topic: str, group: str, records: Sequence[ConsumedRecord]) -> None:
        self._sampled = [record for record in records if is_sampled(record.traceparent)]
        self._attributes: dict[str, AttributeValue] = {
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.batch.message_count": len(records),
        }
        self._name = f"{topic} process"
        self._record_spans: list[Span] = []
        self._batch: contextlib.AbstractContextManager[Span] | None = None
        self.record_traces: dict[int, str] = {}
        """The traceparent of each sampled record's span, by `id(record)`."""

    def __enter__(self) -> "BatchTrace":
        contexts = [propagate.extract({TRACEPARENT: r.traceparent}) for r in self._sampled]
        links = [
            Link(trace.get_current_span(context).get_span_context())
            for context in contexts[:MAX_LINKS]
        ]
        self._batch = tracer.start_as_current_span(
            self._name,
            context=contexts[0] if contexts else None,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=self._attributes,
        )
        self._batch.__enter__()
        for record, context in zip(self._sampled, contexts, strict=True):
            span = tracer.start_span(
                self._name,
                context=context,
                kind=SpanKind.CONSUMER,
                attributes={
                    **self._attributes,
                    "messaging.batch.message_count": 1,
                    "messaging.kafka.destination.partition": record.partition,
                    "messaging.kafka.message.offset": record.offset,
                },
            )
            self._record_spans.append(span)
            self.record_traces[id(record)] = traceparent_of(span)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for span in self._record_spans:
            span.end()
        assert self._batch is not None
        self._batch.__exit__(kind, error, traceback)
