"""UsageClient against a scripted gateway (httpx.MockTransport): batching, acks, retries."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from tally_sdk import AckStatus, RetryPolicy, TallyApiError, UsageClient, send_usage

SID = "AC" + "c" * 32
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=1.0)

Answer = Callable[[httpx.Request], httpx.Response]


def events(count: int, **overrides: object) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"e-{n}",
            "category": "calls-inbound",
            "quantity": "1.5",
            "occurred_at": "2026-11-29T10:00:00Z",
        }
        | overrides
        for n in range(count)
    ]


class Gateway:
    """Records every request and answers with the next scripted answer (the last repeats)."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request)

    def client(self, **options: object) -> UsageClient:
        return UsageClient(
            "http://tally.test",
            SID,
            auth_token="secret",
            retry=FAST,
            transport=httpx.MockTransport(self),
            **options,  # type: ignore[arg-type]
        )

    def bodies(self) -> list[list[dict[str, object]]]:
        return [json.loads(r.content)["events"] for r in self.requests]


def accepted(request: httpx.Request) -> httpx.Response:
    count = len(json.loads(request.content)["events"])
    return httpx.Response(202, json={"accepted": count, "rejected": []})


def problem(status: int, **extra: object) -> Answer:
    body = {"title": "nope", "status": status} | extra
    headers = {"Retry-After": "0"} if status == 429 else {}
    return lambda _: httpx.Response(status, json=body, headers=headers)


async def test_events_go_in_batches_of_at_most_the_limit_with_an_ack_each() -> None:
    gateway = Gateway(accepted)
    async with gateway.client() as client:
        acks = await client.send(events(2500), now=NOW)
    assert [len(body) for body in gateway.bodies()] == [1000, 1000, 500]
    assert [ack.index for ack in acks] == list(range(2500))
    assert {ack.status for ack in acks} == {AckStatus.ACCEPTED}
    assert gateway.requests[0].url.path == f"/v1/Accounts/{SID}/Usage"
    assert gateway.requests[0].headers["Authorization"].startswith("Basic ")


async def test_a_smaller_batch_size_is_kept() -> None:
    gateway = Gateway(accepted)
    async with gateway.client(batch_size=2) as client:
        await client.send(events(5), now=NOW)
    assert [len(body) for body in gateway.bodies()] == [2, 2, 1]


async def test_an_invalid_event_is_not_sent_and_named() -> None:
    gateway = Gateway(accepted)
    sent = events(3)
    sent[1]["quantity"] = "0.1234567"
    async with gateway.client() as client:
        acks = await client.send(sent, now=NOW)
    assert [e["event_id"] for e in gateway.bodies()[0]] == ["e-0", "e-2"]
    assert [a.status for a in acks] == [AckStatus.ACCEPTED, AckStatus.INVALID, AckStatus.ACCEPTED]
    assert (acks[1].event_id, acks[1].field) == ("e-1", "quantity")


async def test_nothing_valid_means_no_request() -> None:
    gateway = Gateway(accepted)
    async with gateway.client() as client:
        acks = await client.send(events(2, category="fax"), now=NOW)
    assert gateway.requests == []
    assert [a.field for a in acks] == ["category", "category"]


async def test_the_gateways_rejections_map_back_to_input_positions() -> None:
    def one_rejected(_: httpx.Request) -> httpx.Response:
        rejected = [{"index": 1, "field": "occurred_at", "reason": "in the future"}]
        return httpx.Response(202, json={"accepted": 1, "rejected": rejected})

    sent = events(3)
    sent[0]["category"] = "fax"  # invalid here: the request holds e-1 and e-2
    gateway = Gateway(one_rejected)
    async with gateway.client() as client:
        acks = await client.send(sent, now=NOW)
    assert [a.status for a in acks] == [AckStatus.INVALID, AckStatus.ACCEPTED, AckStatus.REJECTED]
    assert (acks[2].event_id, acks[2].field, acks[2].reason) == (
        "e-2",
        "occurred_at",
        "in the future",
    )


async def test_a_422_for_the_whole_batch_rejects_each_event_without_a_retry() -> None:
    errors = [{"field": "events[0].occurred_at", "reason": "too late"}]
    gateway = Gateway(problem(422, errors=errors))
    async with gateway.client() as client:
        acks = await client.send(events(2), now=NOW)
    assert len(gateway.requests) == 1
    assert [a.status for a in acks] == [AckStatus.REJECTED, AckStatus.REJECTED]
    assert acks[0].field == "occurred_at"
    assert acks[1].field == "(event)"


@pytest.mark.parametrize("status", [503, 429])
async def test_not_now_is_retried_with_the_same_bytes(status: int) -> None:
    gateway = Gateway(problem(status), problem(status), accepted)
    async with gateway.client() as client:
        acks = await client.send(events(3), now=NOW)
    assert len(gateway.requests) == 3
    assert len({r.content for r in gateway.requests}) == 1  # same events, same ids
    assert {a.status for a in acks} == {AckStatus.ACCEPTED}


async def test_when_retries_run_out_the_events_are_failed_not_lost() -> None:
    gateway = Gateway(problem(503, detail="Kafka did not acknowledge"))
    async with gateway.client() as client:
        acks = await client.send(events(2), now=NOW)
    assert len(gateway.requests) == FAST.attempts
    assert {a.status for a in acks} == {AckStatus.FAILED}
    assert "Kafka did not acknowledge" in str(acks[0].reason)


async def test_connection_errors_are_retried() -> None:
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return accepted(request)

    async with Gateway(flaky).client() as client:
        acks = await client.send(events(1), now=NOW)
    assert len(calls) == 2
    assert acks[0].status is AckStatus.ACCEPTED


async def test_wrong_credentials_raise_with_the_problem_at_once() -> None:
    gateway = Gateway(problem(401, detail="bad token"))
    async with gateway.client() as client:
        with pytest.raises(TallyApiError) as refused:
            await client.send(events(1), now=NOW)
    assert refused.value.status == 401
    assert "bad token" in str(refused.value)
    assert len(gateway.requests) == 1


async def test_receipts_are_asked_a_thousand_at_a_time_in_order() -> None:
    def receipts(request: httpx.Request) -> httpx.Response:
        ids = json.loads(request.content)["event_ids"]
        found = [
            {"event_id": i, "status": "recorded", "duplicates": 0, "conflicts": 0} for i in ids
        ]
        return httpx.Response(200, json={"receipts": found})

    gateway = Gateway(receipts)
    async with gateway.client() as client:
        found = await client.receipts([f"e-{n}" for n in range(1001)])
    assert [len(json.loads(r.content)["event_ids"]) for r in gateway.requests] == [1000, 1]
    assert [r.event_id for r in found] == [f"e-{n}" for n in range(1001)]


def test_the_blocking_wrapper_sends_and_answers_the_acks() -> None:
    gateway = Gateway(accepted)
    acks = send_usage(
        events(2),
        base_url="http://tally.test",
        account_sid=SID,
        auth_token="secret",
        transport=httpx.MockTransport(gateway),
    )
    assert [a.status for a in acks] == [AckStatus.ACCEPTED] * 2
    assert len(gateway.requests) == 1
