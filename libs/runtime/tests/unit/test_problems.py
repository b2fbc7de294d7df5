"""An error no route expected: a bare 500 problem for the caller, the story in log and trace."""

import logging

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from tally_runtime.problems import install_problem_handlers

INTERNALS = "password=hunter2 in /srv/tally/secret_module.py"


def failing_app(spans: InMemorySpanExporter) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError(INTERNALS)

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    return app


async def test_given_an_unexpected_error_then_a_500_problem_names_only_its_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    spans = InMemorySpanExporter()
    transport = httpx.ASGITransport(failing_app(spans))
    with caplog.at_level(logging.ERROR, logger="tally_runtime.problems"):
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            response = await client.get("/fails")

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail"}
    assert problem["title"] == "Internal server error"
    for internal in ("hunter2", "secret_module", "RuntimeError", "Traceback"):
        assert internal not in response.text
    # The trace id it names leads to the logged exception and to the request's span.
    trace_id = problem["detail"].rsplit(" ", 1)[-1]
    [logged] = [record for record in caplog.records if record.name == "tally_runtime.problems"]
    assert trace_id in logged.getMessage()
    assert logged.exc_info is not None and str(logged.exc_info[1]) == INTERNALS
    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.context.trace_id == int(trace_id, 16)
    assert server.status.status_code is StatusCode.ERROR
    assert [event.name for event in server.events] == ["exception"]
