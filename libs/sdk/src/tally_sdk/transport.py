"""One HTTP call to the gateway, retried by the policy, its error answers raised as problems."""

import asyncio
import json
from types import TracebackType
from typing import Any, Self

import httpx

from tally_sdk.errors import TallyApiError, TallyUnavailable
from tally_sdk.retry import RetryPolicy

USER_AGENT = "tally-sdk/0.1"


class Gateway:
    """An httpx client of the gateway's `/v1` API with the caller's credentials."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        wait_seconds: float | None = None,
    ) -> httpx.Response:
        """The 2xx answer; TallyApiError for a refusal, TallyUnavailable once retries run out.

        `wait_seconds` replaces the client's timeout for a call known to take long.

        The request is sent again, unchanged, only when the policy says so (see `retry`).
        """
        headers = {"Content-Type": "application/json"} if content is not None else None
        limit = httpx.USE_CLIENT_DEFAULT if wait_seconds is None else httpx.Timeout(wait_seconds)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    method,
                    path,
                    json=json_body,
                    content=content,
                    params=params,
                    headers=headers,
                    timeout=limit,
                )
            except httpx.TransportError as error:
                delay = self.retry.delay_after(attempt, None)
                if delay is None:
                    why = f"{method} {path}: {type(error).__name__}: {error}"
                    raise TallyUnavailable(why) from error
                await asyncio.sleep(delay)
                continue
            if response.is_success:
                return response
            delay = self.retry.delay_after(
                attempt, response.status_code, response.headers.get("Retry-After")
            )
            if delay is None:
                raise problem_of(response)
            await asyncio.sleep(delay)


def problem_of(response: httpx.Response) -> TallyApiError:
    """The answer's problem document, or one made of its status line."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        body = {"title": response.reason_phrase, "detail": response.text[:500] or None}
    return TallyApiError(response.status_code, body)


class GatewayClient:
    """What the SDK's HTTP clients share: a `Gateway` they own, closed on leaving `async with`."""

    _gateway: Gateway

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._gateway.aclose()
