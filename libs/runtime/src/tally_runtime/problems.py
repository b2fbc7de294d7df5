"""RFC 9457 problem responses for every HTTP API, each naming the field that was wrong."""

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from tally_contracts.errors import FieldError

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """The body of an `application/problem+json` response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(status=status, title=title, detail=detail, errors=errors)


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


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` an RFC 9457 problem document."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(ProblemError, _on_problem)
