"""Spans written as JSON lines keep every attribute, even the bytes ones Kafka spans carry."""

import json

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind
from tally_runtime.telemetry import _one_line


def test_given_a_span_with_a_bytes_kafka_key_then_its_line_carries_the_key_as_text() -> None:
    span = ReadableSpan(
        name="usage.events.v1 publish",
        context=SpanContext(trace_id=0xABC, span_id=0xDEF, is_remote=False),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.kafka.message.key": b"AC" + b"0" * 32, "messaging.system": "kafka"},
    )
    line = _one_line(span)
    assert line.endswith("\n") and line.count("\n") == 1
    written = json.loads(line)
    assert written["attributes"] == {
        "messaging.kafka.message.key": "AC" + "0" * 32,
        "messaging.system": "kafka",
    }
    assert written["kind"] == "SpanKind.PRODUCER"
