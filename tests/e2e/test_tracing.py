"""One usage event can be followed from the gateway to the notification decision it caused."""

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from tally_testkit import eventually

from tests.e2e.system import System
from tests.e2e.test_exactly_once import usage_event


def spans_in(trace_dir: Path) -> list[dict[str, Any]]:
    """Every span the services have exported so far (one JSON object per line)."""
    spans = []
    for file in trace_dir.glob("*.jsonl"):
        spans.extend(json.loads(line) for line in file.read_text().splitlines() if line.strip())
    return spans


def service_of(span: dict[str, Any]) -> str:
    return str(span["resource"]["attributes"]["service.name"])


async def test_given_usage_posted_to_the_gateway_then_one_trace_covers_every_hop(
    system: System,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    account = await create_account()
    sid = account["sid"]

    posted = await http.post(
        f"{system.url('gateway')}/v1/Accounts/{sid}/Usage",
        json={"events": [usage_event(sid, quantity="3")]},
        auth=(sid, account["auth_token"]),
    )
    assert posted.status_code == 202, posted.text

    async def decisions() -> list[Any]:
        response = await http.get(f"{system.url('notifications')}/accounts/{sid}/decisions")
        return list(response.json()["decisions"])

    # The account's trial credit is decided about too; the usage's own charge is the one traced.
    await eventually(
        decisions,
        lambda found: any(d["source_event_id"].startswith("charge:") for d in found),
    )

    def the_trace(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ingest = [
            span
            for span in spans
            if service_of(span) == "tally-gateway"
            and span["attributes"].get("http.route") == "/v1/Accounts/{sid}/Usage"
            and span["kind"] == "SpanKind.SERVER"
        ]
        if not ingest:
            return []
        trace_id = ingest[-1]["context"]["trace_id"]
        return [span for span in spans if span["context"]["trace_id"] == trace_id]

    # Spans are exported in batches, and a consumer span ends after the database spans inside
    # it: wait until the notification service's consumer span, the last to end, has landed.
    def notifications_consumed(found: list[dict[str, Any]]) -> bool:
        return any(
            service_of(span) == "tally-notifications" and span["kind"] == "SpanKind.CONSUMER"
            for span in found
        )

    trace = await eventually(
        _async(lambda: the_trace(spans_in(system.trace_dir))), notifications_consumed
    )

    services = {service_of(span) for span in trace}
    assert services >= {"tally-gateway", "tally-usage", "tally-invoicing", "tally-notifications"}
    kafka_hops = {
        (service_of(span), span["kind"])
        for span in trace
        if span["attributes"].get("messaging.system") == "kafka"
    }
    assert ("tally-gateway", "SpanKind.PRODUCER") in kafka_hops
    for consumer in ("tally-usage", "tally-invoicing", "tally-notifications"):
        assert (consumer, "SpanKind.CONSUMER") in kafka_hops
    for producer in ("tally-usage", "tally-invoicing"):
        assert (producer, "SpanKind.PRODUCER") in kafka_hops
    database_spans = {service_of(s) for s in trace if s["attributes"].get("db.system")}
    assert {"tally-usage", "tally-invoicing", "tally-notifications"} <= database_spans


def _async(function: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def probe() -> Any:
        return function()

    return probe
