"""Errors the SDK raises: Tally's problem documents (RFC 9457) kept whole, and shown in full."""

from typing import Any


class TallyError(Exception):
    """Anything that kept a call to Tally from succeeding."""


class TallyApiError(TallyError):
    """Tally answered with an error; `problem` is its `application/problem+json` body.

    `str()` shows the status, title, detail, every `errors` entry (`field: reason`) and the
    states `allowed`, which is what a developer needs to fix the call.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(describe_problem(status, problem))

    @property
    def errors(self) -> list[dict[str, str]]:
        found = self.problem.get("errors")
        return found if isinstance(found, list) else []


class TallyUnavailable(TallyError):
    """No usable answer after every retry (Tally down, overloaded or unreachable)."""


def describe_problem(status: int, problem: dict[str, Any]) -> str:
    """One readable paragraph of a problem document."""
    text = f"{status} {problem.get('title') or 'error'}"
    if problem.get("detail"):
        text += f": {problem['detail']}"
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            text += f"\n  {error.get('field')}: {error.get('reason')}"
    if problem.get("allowed"):
        text += f"\n  allowed: {', '.join(str(a) for a in problem['allowed'])}"
    return text
