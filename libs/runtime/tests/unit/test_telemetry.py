"""Where spans go (OTLP unless told otherwise) and logs that carry the trace ids."""

import json
import logging
import socket
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from tally_runtime.settings import ServiceSettings
from tally_runtime.telemetry import JsonLogFormatter, _network_exporter, chosen_exporters

EXPORT_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "TALLY_TRACE_DIR",
    "TALLY_ENVIRONMENT",
)


def settings(**given: object) -> ServiceSettings:
    return ServiceSettings(service_token="a-real-secret", **given)  # type: ignore[arg-type]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in EXPORT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_given_nothing_chosen_then_spans_go_over_otlp(clean_environment: None) -> None:
    assert chosen_exporters(settings(environment="development")) == {"otlp"}
    assert chosen_exporters(settings(environment="production")) == {"otlp"}


def test_given_the_tests_files_or_environment_then_nothing_is_sent_unless_asked(
    clean_environment: None,
) -> None:
    assert chosen_exporters(settings(trace_dir=Path("/tmp/spans"))) == set()
    assert chosen_exporters(settings(environment="test")) == set()


def test_given_an_otlp_endpoint_then_spans_go_there_even_in_tests(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert chosen_exporters(settings(environment="test")) == {"otlp"}


@pytest.mark.parametrize(
    ("named", "chosen"),
    [("zipkin", {"zipkin"}), ("none", set()), ("otlp, zipkin", {"otlp", "zipkin"})],
)
def test_given_otel_traces_exporter_then_it_decides(
    clean_environment: pytest.MonkeyPatch, named: str, chosen: set[str]
) -> None:
    clean_environment.setenv("OTEL_TRACES_EXPORTER", named)
    assert chosen_exporters(settings(environment="development")) == chosen


def test_given_an_unknown_exporter_then_the_service_refuses_to_start(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("OTEL_TRACES_EXPORTER", "jaegr")
    with pytest.raises(ValueError, match="jaegr"):
        chosen_exporters(settings())


def a_record(message: str) -> logging.LogRecord:
    return logging.LogRecord("tally.test", logging.WARNING, __file__, 1, message, None, None)


def test_given_a_line_logged_in_a_span_then_it_is_json_with_the_spans_ids() -> None:
    tracer = TracerProvider().get_tracer(__name__)
    formatter = JsonLogFormatter("usage")
    with tracer.start_as_current_span("work") as span:
        line = json.loads(formatter.format(a_record("parking a record")))
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert (line["service"], line["level"], line["message"]) == (
        "tally-usage",
        "WARNING",
        "parking a record",
    )
    assert line["time"].endswith("+00:00")


def test_given_a_line_logged_outside_any_span_then_it_has_no_trace_ids() -> None:
    line = json.loads(JsonLogFormatter("usage").format(a_record("starting")))
    assert "trace_id" not in line and "span_id" not in line


def test_given_zipkin_not_listening_then_spans_are_dropped_with_one_warning(
    clean_environment: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clean_environment.setenv(
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT", f"http://127.0.0.1:{port}/api/v2/spans"
    )
    exporter = _network_exporter("zipkin")
    provider = TracerProvider(resource=Resource.create({"service.name": "tally-usage"}))
    with provider.get_tracer(__name__).start_as_current_span("work") as span:
        pass
    with caplog.at_level(logging.WARNING, logger="tally_runtime.telemetry"):
        results = [exporter.export([span]), exporter.export([span])]  # type: ignore[list-item]
    assert results == [SpanExportResult.FAILURE, SpanExportResult.FAILURE]
    assert len([r for r in caplog.records if "spans dropped" in r.getMessage()]) == 1
