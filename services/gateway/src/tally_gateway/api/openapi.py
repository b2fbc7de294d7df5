"""What every route documents alike: its problem responses, the Idempotency-Key header."""

from typing import Annotated, Any

from fastapi import Header
from tally_runtime.problems import PROBLEM_JSON, Problem


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    problem = {
        "model": Problem,  # registers the schema the problem+json content refers to
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    return {status_code: problem for status_code in statuses}


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="any unique text, e.g. a UUID; a retry with the same key is safe",
    ),
]
