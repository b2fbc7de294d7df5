"""RFC 9457 problem responses for every HTTP API, each naming the field that was wrong."""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tally_contracts.errors import FieldError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """The body of an `application/problem+json` response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
    allowed: list[str] | None = None
    """With a `409`: the actions or transitions the current state does allow."""


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        *,
        allowed: list[str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            status=status, title=title, detail=detail, errors=errors, allowed=allowed
        )


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Render a problem with the RFC 9457 media type."""
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_of(location: tuple[Any, ...]) -> str:
    # FastAPI prefixes "body"/"query"/"path"; the caller knows the field by its own name.
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def _field_error(item: Mapping[str, Any]) -> FieldError:
    if item.get("type") == "json_invalid":
        # FastAPI locates a JSON syntax error at a character position, not at a field.
        position = item["loc"][-1]
        cause = item.get("ctx", {}).get("error", "")
        return FieldError(field="(body)", reason=f"not valid JSON: {cause} at character {position}")
    reason = str(item["msg"]).removeprefix("Value error, ")  # as tally_contracts words it
    return FieldError(field=_field_of(tuple(item["loc"])), reason=reason)


async def _on_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [_field_error(item) for item in error.errors()]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
    return problem_response(
        Problem(status=422, title="Invalid request", detail=detail, errors=errors)
    )


async def _on_http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return problem_response(
        Problem(status=error.status_code, title=str(error.detail)), headers=error.headers
    )


async def _on_problem(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(error.problem)


class _UnexpectedErrors:
    """Answers an error no handler expected with a bare 500 problem, and logs it in full.

    The caller learns the trace id and nothing else: no message, type or stack, which could
    tell an attacker about the internals. The log and the trace span hold the rest.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_noting_answer(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_answer)
        except Exception as error:
            if answered:
                raise  # too late for a problem document; the server drops the connection
            trace_id = _record(error, f"{scope['method']} {scope['path']}")
            problem = Problem(
                status=500,
                title="Internal server error",
                detail=f"an unexpected error; it is logged under trace {trace_id}",
            )
            await problem_response(problem)(scope, receive, send)


def _record(error: Exception, request: str) -> str:
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    trace_id = format(span.get_span_context().trace_id, "032x")
    log.error("unexpected error answering %s (trace %s)", request, trace_id, exc_info=error)
    return trace_id


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` an RFC 9457 problem document, an unexpected one included."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_middleware(_UnexpectedErrors)
