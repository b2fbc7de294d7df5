"""Text no service can store (NUL) is refused with a 422 naming the field, never sent on.

Found by fuzzing: JSON may spell NUL ("\\u0000") but PostgreSQL text cannot hold it, so the
services behind the gateway answered 500 (a 503 for the caller)."""

import httpx
import pytest
from tally_gateway.upstream import ServiceClient
from tally_runtime.problems import ProblemError


def client(sent: list[httpx.Request]) -> ServiceClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://svc")
    return ServiceClient("accounts", http)


@pytest.mark.parametrize(
    ("body", "params", "field"),
    [
        ({"mailing_address": {"city": "Chi\x00cago"}}, None, "mailing_address.city"),
        ({"items": ["ok", "n\x00"]}, None, "items.1"),
        ({"attributes": {"k\x00": "v"}}, None, "attributes.k\x00"),
        (None, {"by": "ops\x00"}, "by"),
    ],
)
async def test_given_nul_in_text_then_422_naming_the_field_and_nothing_sent(
    body: object, params: dict[str, str] | None, field: str
) -> None:
    sent: list[httpx.Request] = []

    with pytest.raises(ProblemError) as refused:
        await client(sent).send("POST", "/x", body, params=params)

    assert refused.value.problem.status == 422
    assert refused.value.problem.errors is not None
    assert refused.value.problem.errors[0].field == field
    assert sent == []


async def test_given_ordinary_text_then_it_is_sent() -> None:
    sent: list[httpx.Request] = []

    await client(sent).send("POST", "/x", {"city": "Chicago", "lines": ["a", "b"]})

    assert len(sent) == 1
