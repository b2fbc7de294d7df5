"""Tracing a batch costs a span per batch and per sampled record, never per unsampled one."""

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tally_runtime.batch_tracing import BatchTrace
from tally_runtime.records import TRACEPARENT, ConsumedRecord, is_sampled

SAMPLED = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNSAMPLED = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def record(offset: int, traceparent: str | None) -> ConsumedRecord:
    headers = [(TRACEPARENT, traceparent.encode())] if traceparent else []
    return ConsumedRecord.of("usage.events.v1", 0, offset, b"k", b"{}", headers)


@pytest.mark.parametrize(
    ("traceparent", "sampled"),
    [
        (SAMPLED, True),
        (UNSAMPLED, False),
        (None, False),
        ("garbage", False),
        (SAMPLED[:-2] + "zz", False),
    ],
)
def test_given_a_traceparent_then_only_the_sampled_flag_makes_it_sampled(
    traceparent: str | None, sampled: bool
) -> None:
    assert is_sampled(traceparent) is sampled


def test_given_a_record_with_headers_then_its_traceparent_is_read_once() -> None:
    assert record(1, SAMPLED).traceparent == SAMPLED
    assert record(1, None).traceparent is None


def test_given_one_sampled_record_among_unsampled_then_it_alone_gets_a_span_in_its_trace(
    spans: InMemorySpanExporter,
) -> None:
    batch = [record(1, UNSAMPLED), record(2, SAMPLED), record(3, None)]

    with BatchTrace("usage.events.v1", "tally-usage", batch) as traced:
        pass

    finished = spans.get_finished_spans()
    assert len(finished) == 2  # the batch's and the sampled record's
    assert list(traced.record_traces) == [id(batch[1])]
    trace_id = int(SAMPLED.split("-")[1], 16)
    assert {span.context.trace_id for span in finished} == {trace_id}  # the producer's trace
    assert all(span.kind is SpanKind.CONSUMER for span in finished)
    batch_span = next(s for s in finished if s.attributes["messaging.batch.message_count"] == 3)
    assert [link.context.trace_id for link in batch_span.links] == [trace_id]


def test_given_no_sampled_record_then_no_record_span_is_made(
    spans: InMemorySpanExporter,
) -> None:
    with BatchTrace("usage.events.v1", "tally-usage", [record(1, UNSAMPLED)]) as traced:
        pass

    assert traced.record_traces == {}
    [batch_span] = spans.get_finished_spans()  # this test's provider samples every root span
    assert "messaging.kafka.message.offset" not in (batch_span.attributes or {})
