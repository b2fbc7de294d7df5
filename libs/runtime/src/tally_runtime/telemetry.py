"""OpenTelemetry tracing for one process: OTLP when configured, JSON-lines files for tests."""

import json
import os
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from tally_runtime.settings import ServiceSettings


def _json_safe(span: ReadableSpan) -> ReadableSpan:
    # OpenTelemetry allows bytes attributes (an instrumentation may record Kafka keys as bytes)
    # but `to_json` cannot encode them, and one such span would drop its whole export batch.
    attributes = span.attributes or {}
    if not any(isinstance(value, bytes) for value in attributes.values()):
        return span
    decoded = {
        name: value.decode(errors="replace") if isinstance(value, bytes) else value
        for name, value in attributes.items()
    }
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=decoded,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _one_line(span: ReadableSpan) -> str:
    return json.dumps(json.loads(_json_safe(span).to_json()), separators=(",", ":")) + "\n"


EXPORT_QUEUE_SPANS = 8192
"""Spans waiting for export; past that new ones are dropped rather than memory growing."""


def _exporting(exporter: SpanExporter) -> BatchSpanProcessor:
    return BatchSpanProcessor(
        exporter, max_queue_size=EXPORT_QUEUE_SPANS, schedule_delay_millis=200
    )


def configure_tracing(service_name: str, settings: ServiceSettings) -> TracerProvider:
    """Build the process's tracer provider and instrument PostgreSQL calls with it.

    New traces are recorded at `settings.trace_sample_ratio`; a span whose parent was
    sampled (a request traced upstream) always is, so sampled traces stay whole.
    """
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"tally-{service_name}"}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    if settings.trace_dir is not None:
        Path(settings.trace_dir).mkdir(parents=True, exist_ok=True)
        # Line-buffered so a reader sees whole spans; one file per service avoids interleaving.
        out = (Path(settings.trace_dir) / f"{service_name}.jsonl").open("a", buffering=1)
        provider.add_span_processor(_exporting(ConsoleSpanExporter(out=out, formatter=_one_line)))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        provider.add_span_processor(_exporting(OTLPSpanExporter()))
    # The global provider serves libraries that look it up themselves; set once per process.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
    return provider
