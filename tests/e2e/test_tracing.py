"""One usage request can be followed in the tracing dashboard from the gateway to the notification
decision it caused: the recharge reminder about the low-balance crossing it caused.

The trace is read back through Zipkin's own HTTP API (tests/e2e/zipkin.py runs the server the
way `make up` does), so what ops see is what is tested.
"""

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tally_testkit import eventually

from tests.e2e.system import System
from tests.e2e.test_exactly_once import usage_event
from tests.e2e.zipkin import Zipkin

SERVICES_ON_THE_PATH = {"tally-gateway", "tally-usage", "tally-invoicing", "tally-notifications"}


def service_of(span: dict[str, Any]) -> str:
    return str(span.get("localEndpoint", {}).get("serviceName", ""))


# The Kafka hops of one usage request, as (service, span kind): the gateway produces, usage
# consumes and produces, invoicing consumes and produces, notifications consumes.
KAFKA_HOPS = {
    ("tally-gateway", "PRODUCER"),
    ("tally-usage", "CONSUMER"),
    ("tally-usage", "PRODUCER"),
    ("tally-invoicing", "CONSUMER"),
    ("tally-invoicing", "PRODUCER"),
    ("tally-notifications", "CONSUMER"),
}


def kafka_hops(spans: list[dict[str, Any]]) -> set[tuple[str, Any]]:
    return {
        (service_of(span), span.get("kind"))
        for span in spans
        if span.get("tags", {}).get("messaging.system") == "kafka"
    }


async def test_given_usage_posted_to_the_gateway_then_zipkin_shows_one_trace_over_every_hop(
    system: System,
    zipkin: Zipkin,
    http: httpx.AsyncClient,
    create_account: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    await zipkin.wait_ready()
    account = await create_account()
    sid = account["sid"]
    # The request starts a sampled trace of our choosing, as an instrumented producer would.
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"

    # 400 minutes at 0.0140 = 5.60: the trial credit of 15.00 falls to 9.40, below the
    # low-balance threshold of 10.00, so this usage causes a recharge reminder.
    posted = await http.post(
        f"{system.url('gateway')}/v1/Accounts/{sid}/Usage",
        json={"events": [usage_event(sid, quantity="400")]},
        auth=(sid, account["auth_token"]),
        headers={"traceparent": traceparent},
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

    async def the_trace() -> list[dict[str, Any]]:
        response = await http.get(f"{zipkin.url}/api/v2/trace/{trace_id}")
        return list(response.json()) if response.status_code == 200 else []

    # Each service exports its spans in batches on a timer of its own, so the notification
    # service's spans may land before invoicing's: wait for every Kafka hop the trace crosses.
    def every_hop_landed(spans: list[dict[str, Any]]) -> bool:
        return kafka_hops(spans) >= KAFKA_HOPS

    trace = await eventually(the_trace, every_hop_landed, within=60)

    assert {service_of(span) for span in trace} >= SERVICES_ON_THE_PATH
    assert {span["traceId"] for span in trace} == {trace_id}
    ingest = [
        span
        for span in trace
        if service_of(span) == "tally-gateway"
        and span.get("kind") == "SERVER"
        and span.get("tags", {}).get("http.route") == "/v1/Accounts/{sid}/Usage"
    ]
    assert len(ingest) == 1, [span.get("name") for span in trace]
    assert kafka_hops(trace) >= KAFKA_HOPS
    database_spans = {service_of(s) for s in trace if s.get("tags", {}).get("db.system")}
    assert {"tally-usage", "tally-invoicing", "tally-notifications"} <= database_spans

    # Ops find it without knowing its id: the dashboard lists it under the last service.
    found = await http.get(
        f"{zipkin.url}/api/v2/traces",
        params={"serviceName": "tally-notifications", "limit": 1000, "lookback": 3_600_000},
    )
    assert trace_id in {spans[0]["traceId"] for spans in found.json() if spans}
