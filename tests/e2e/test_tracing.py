"""One usage event can be followed from the gateway to the notification decision it caused:
the recharge reminder about the low-balance crossing it caused."""

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

    # 400 minutes at 0.0140 = 5.60: the trial credit of 15.00 falls to 9.40, below the
    # low-balance threshold of 10.00, so this usage causes a recharge reminder.
    posted = await http.post(
        f"{system.url('gateway')}/v1/Accounts/{sid}/Usage",
        json={"events": [usage_event(sid, quantity="400")]},
        auth=(sid, account["auth_token"]),
    )
    assert posted.status_code == 202, posted.text

    async def notifications() -> list[Any]:
        response = await http.get(f"{system.url('notifications')}/accounts/{sid}/notifications")
        return list(response.json()["notifications"])

    # The trace ends at the decision about the low-balance crossing the usage caused.
    decided = await eventually(
        notifications,
        lambda found: any(
            n["kind"] == "recharge_reminder" and n["decision"] != "deferred" for n in found
        ),
    )
    assert [n["decision"] for n in decided if n["kind"] == "recharge_reminder"] == ["sent"]

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
