"""OpenTelemetry tracing for one process, and logs that carry its trace ids.

Where spans go is OpenTelemetry's own variable, `OTEL_TRACES_EXPORTER` (comma-separated):
`otlp` (to `OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318), `zipkin` (to
`OTEL_EXPORTER_ZIPKIN_ENDPOINT`, default http://localhost:9411/api/v2/spans) or `none`. Unset,
it is `otlp`, except where `TALLY_TRACE_DIR` chose the JSON-lines files the tests read, or in
the test environment: there nothing is sent unless asked (an absent collector costs seconds).
"""

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import format_span_id, format_trace_id

from tally_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


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


EXPORTERS_VARIABLE = "OTEL_TRACES_EXPORTER"


def chosen_exporters(settings: ServiceSettings) -> set[str]:
    """The span exporters `OTEL_TRACES_EXPORTER` names, or the default (see the module doc)."""
    named = os.environ.get(EXPORTERS_VARIABLE, "").strip()
    if named:
        chosen = {name.strip() for name in named.split(",") if name.strip()} - {"none"}
        unknown = chosen - {"otlp", "zipkin"}
        if unknown:
            raise ValueError(f"{EXPORTERS_VARIABLE}: unknown exporter(s) {sorted(unknown)}")
        return chosen
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return {"otlp"}
    if settings.trace_dir is not None or settings.environment == "test":
        return set()
    return {"otlp"}


class _DashboardAway(SpanExporter):
    """Drops spans while the exporter's server does not answer, saying so once a minute.

    The local dashboard may start after the services, or not at all: a traceback per export
    batch (five a second) would bury every other line of the service's log.
    """

    def __init__(self, exporter: SpanExporter, name: str) -> None:
        self._exporter = exporter
        self._name = name
        self._next_warning = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self._exporter.export(spans)
        except OSError as error:  # requests' ConnectionError is one
            if time.monotonic() >= self._next_warning:
                self._next_warning = time.monotonic() + 60
                log.warning("%s exporter: spans dropped, no answer (%s)", self._name, error)
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _network_exporter(name: str) -> SpanExporter:
    if name == "zipkin":
        # Imported only when chosen: its module pulls in `requests` for nothing otherwise.
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return _DashboardAway(ZipkinExporter(), name)
    return OTLPSpanExporter()


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the ids of the span current when the line was logged."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = f"tally-{service_name}"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line["trace_id"] = format_trace_id(context.trace_id)
            line["span_id"] = format_span_id(context.span_id)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service_name: str) -> None:
    """Log INFO and up to stderr as JSON lines carrying trace ids; once per process."""
    root = logging.getLogger()
    if any(isinstance(handler.formatter, JsonLogFormatter) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(service_name))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def configure_tracing(service_name: str, settings: ServiceSettings) -> TracerProvider:
    """Build the process's tracer provider and instrument PostgreSQL calls with it.

    New traces are recorded at `settings.trace_sample_ratio`; a span whose parent was
    sampled (a request traced upstream) always is, so sampled traces stay whole. The
    process's logs become JSON lines that carry the current trace and span ids.
    """
    configure_logging(service_name)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"tally-{service_name}"}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    if settings.trace_dir is not None:
        Path(settings.trace_dir).mkdir(parents=True, exist_ok=True)
        # Line-buffered so a reader sees whole spans; one file per service avoids interleaving.
        out = (Path(settings.trace_dir) / f"{service_name}.jsonl").open("a", buffering=1)
        provider.add_span_processor(_exporting(ConsoleSpanExporter(out=out, formatter=_one_line)))
    for name in sorted(chosen_exporters(settings)):
        provider.add_span_processor(_exporting(_network_exporter(name)))
    # The global provider serves libraries that look it up themselves; set once per process.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)
    return provider
