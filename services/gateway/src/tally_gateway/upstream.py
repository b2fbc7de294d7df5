"""Calling Tally's services' internal HTTP APIs: their problems reach the caller as-is.

Every client carries the service token the internal APIs require. A service that does not
answer, or answers 5xx, is a `503` for the caller; its `4xx` problems (a `422` naming the
field, a `409` with `allowed`) are relayed unchanged.
"""

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tally_contracts.errors import FieldError
from tally_runtime.problems import Problem, ProblemError

M = TypeVar("M", bound=BaseModel)


class ServiceUnavailable(ProblemError):
    """A service behind the gateway did not answer, or answered with an error of its own."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(503, f"{service.capitalize()} service unavailable", detail=detail)


class ServiceClient:
    """A client of one internal API (`usage`, `accounts`, `invoicing`, `notifications`)."""

    def __init__(self, service: str, http: httpx.AsyncClient) -> None:
        self.service = service
        self._http = http

    async def send(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        params: dict[str, Any] | None = None,
        wait_seconds: float | None = None,
    ) -> httpx.Response:
        """The service's answer; 5xx and transport errors become `ServiceUnavailable`.

        `wait_seconds` replaces the client's timeout for a call known to take long (a billing run).
        """
        _refuse_nul(body, params)
        limit = httpx.USE_CLIENT_DEFAULT if wait_seconds is None else httpx.Timeout(wait_seconds)
        try:
            response = await self._http.request(
                method, path, json=body, params=params, timeout=limit
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailable(self.service, f"{type(error).__name__}: {error}") from error
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise ServiceUnavailable(self.service, f"it answered {response.status_code}")
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # The gateway's own misconfiguration (service token); not the caller's to fix.
            raise ServiceUnavailable(self.service, "it refused the gateway's service token")
        return response

    async def call(
        self,
        model: type[M],
        method: str,
        path: str,
        body: object = None,
        *,
        params: dict[str, Any] | None = None,
        wait_seconds: float | None = None,
    ) -> M:
        """Send, relay a 4xx problem, and read a 2xx answer as `model`."""
        response = await self.send(method, path, body, params=params, wait_seconds=wait_seconds)
        return self.read(model, response)

    def read(self, model: type[M], response: httpx.Response) -> M:
        """A 2xx answer as `model`; a 4xx problem raised as the gateway's own."""
        if response.is_client_error:
            raise relayed(response)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise ServiceUnavailable(self.service, f"unexpected answer: {error}") from error


def relayed(response: httpx.Response) -> ProblemError:
    """A service's own problem (a 422 naming the field) as the gateway's."""
    try:
        problem = Problem.model_validate_json(response.content)
    except ValidationError:
        problem = Problem(status=response.status_code, title=response.reason_phrase)
    return ProblemError(
        problem.status, problem.title, problem.detail, problem.errors, allowed=problem.allowed
    )


_NO_NUL = "must not contain the NUL character (U+0000)"


def _refuse_nul(body: object, params: dict[str, Any] | None) -> None:
    """Refuse text no service can store: JSON may spell NUL ("\\u0000"), PostgreSQL text not."""
    for sent in (body, params):
        field = _field_with_nul(sent, "")
        if field is not None:
            error = FieldError(field=field or "(body)", reason=_NO_NUL)
            raise ProblemError(422, "Invalid request", f"{error.field}: {_NO_NUL}", [error])


def _field_with_nul(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    items: list[tuple[object, object]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    for key, item in items:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return here
        found = _field_with_nul(item, here)
        if found is not None:
            return found
    return None
