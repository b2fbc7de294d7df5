"""What every route documents alike: its problem responses, the Idempotency-Key header."""

from typing import Any

from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_gateway.idempotency import IdempotencyKey

__all__ = ["IDEMPOTENT_RETRIES", "IdempotencyKey", "problems"]


RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before the caller's next request is admitted",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The responses of `statuses`, each an RFC 9457 problem document (a 429 with Retry-After)."""
    problem = {
        "model": Problem,  # registers the schema the problem+json content refers to
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    return {
        status_code: problem | ({"headers": RETRY_AFTER} if status_code == 429 else {})
        for status_code in statuses
    }


IDEMPOTENT_RETRIES = """

**Idempotency-Key.** Send one to make a retry safe: the same key with the same body answers
with the first response (status and body, with `Idempotent-Replayed: true`) and does the work
once, however the first attempt ended, unless it ended in a `5xx` (then the retry runs
again). The same key with another body, or on another route, is a `409`, and so is a repeat
while the first request is still being answered. Keys are the caller's own (an account's,
or the ops key's) and are kept 24 hours."""
"""The end of the description of every route that honours `Idempotency-Key`."""
