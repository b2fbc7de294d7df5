"""Validation errors as (field, reason) pairs, the shape dead letters and problem responses use."""

from pydantic import BaseModel, ValidationError


class FieldError(BaseModel):
    """One broken rule: which field, and why, in words a producer's developer can act on."""

    field: str
    reason: str


def field_errors(error: ValidationError) -> list[FieldError]:
    """Flatten a pydantic error into one entry per offending field (`attributes.key` style)."""
    found = []
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"]) or "(body)"
        reason = detail["msg"].removeprefix("Value error, ")
        found.append(FieldError(field=field, reason=reason))
    return found
