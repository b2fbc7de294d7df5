"""What the gateway refuses to read: bodies above its limit, and any body before credentials."""

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from tally_gateway.config import Settings as GatewaySettings

CreateAccount = Callable[[], Awaitable[dict[str, Any]]]
MEBIBYTE = 1024 * 1024


def basic(account: dict[str, Any]) -> dict[str, str]:
    """The account's own `Authorization: Basic` header."""
    pair = f"{account['sid']}:{account['auth_token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


class CountedBody:
    """A request body streamed in 1 MiB chunks, counting how many the server pulled."""

    def __init__(self, mebibytes: int) -> None:
        self.mebibytes = mebibytes
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.mebibytes):
            self.pulled += 1
            yield b" " * MEBIBYTE


async def test_given_a_declared_body_above_the_limit_then_413_and_not_a_byte_is_read(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, create_account: CreateAccount
) -> None:
    account = await create_account()
    body = CountedBody(gateway_settings.max_body_bytes // MEBIBYTE + 1)
    declared = {"content-length": str(body.mebibytes * MEBIBYTE)}

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=body,
        headers=basic(account) | declared | {"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Request body too large"
    assert body.pulled == 0


async def test_given_a_chunked_body_above_the_limit_then_413_at_the_first_chunk_too_many(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, create_account: CreateAccount
) -> None:
    account = await create_account()
    limit_in_chunks = gateway_settings.max_body_bytes // MEBIBYTE
    body = CountedBody(limit_in_chunks + 3)  # no Content-Length: sent chunked

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=body,
        headers=basic(account) | {"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert body.pulled == limit_in_chunks + 1


async def test_given_no_credentials_then_401_and_the_body_is_never_read(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    body = CountedBody(2)  # within the limit, but a stranger's

    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=body,
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert body.pulled == 0


async def test_given_a_body_that_is_not_declared_json_then_a_415_problem(
    gateway: httpx.AsyncClient, create_account: CreateAccount
) -> None:
    account = await create_account()
    response = await gateway.post(
        f"/v1/Accounts/{account['sid']}/Usage",
        content=b'{"events": []}',
        headers=basic(account) | {"content-type": "text/plain"},
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
