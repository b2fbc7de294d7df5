"""What the accounts API's routes share: the clock, invoicing's client, errors as problems."""

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from tally_contracts.errors import FieldError
from tally_runtime.clock import Clock
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_accounts.domain import AccountNotFound
from tally_accounts.eligibility import NotEligible
from tally_accounts.invoicing_client import (
    CardDeclined,
    InvoicingClient,
    InvoicingUnavailable,
    PaymentConflict,
    PaymentInvalid,
)
from tally_accounts.preferences import AutoRechargeUnavailable, IncompleteAutoRecharge
from tally_accounts.upgrade import UnknownAddress

_PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that may answer these problem statuses."""
    return {status_code: _PROBLEM for status_code in statuses}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _invoicing(request: Request) -> InvoicingClient:
    return InvoicingClient(request.app.state.settings)


RequestClock = Annotated[Clock, Depends(_clock)]
"""The clock the composition root put on `app.state.clock`."""

Invoicing = Annotated[InvoicingClient, Depends(_invoicing)]
"""A client of invoicing's internal API (top-ups, card authorizations)."""


def field_problem(field: str, reason: str, *, status: int = 422) -> ProblemError:
    """A problem naming one field of the request."""
    title = "Invalid request" if status == 422 else "Request refused"
    return ProblemError(
        status, title, detail=f"{field}: {reason}", errors=[FieldError(field=field, reason=reason)]
    )


@contextlib.contextmanager
def as_problems() -> Iterator[None]:
    """Answer the use cases' domain errors as problem documents."""
    try:
        yield
    except AccountNotFound as missing:
        raise ProblemError(404, "Account not found", detail=str(missing)) from None
    except NotEligible as refused:
        rules = [reason.rule.value for reason in refused.reasons]
        raise ProblemError(
            409,
            "Not eligible for pay by invoice",
            detail="; ".join(f"{r.rule}: {r.message}" for r in refused.reasons),
            errors=[FieldError(field="method", reason=rule) for rule in rules],
            allowed=["pay_as_you_go"] if rules != ["not_trial"] else [],
        ) from None
    except UnknownAddress as unknown:
        raise field_problem(
            "address_id", f"{unknown} is not an address of this account's owner"
        ) from None
    except PaymentInvalid as invalid:
        raise field_problem(invalid.field, invalid.reason) from None
    except CardDeclined as declined:
        raise ProblemError(
            402,
            "Card declined",
            detail=f"{declined.reason}; nothing was changed",
            errors=[FieldError(field=declined.field, reason=declined.reason)],
        ) from None
    except PaymentConflict as conflict:
        raise ProblemError(409, "Payment refused", detail=str(conflict)) from None
    except InvoicingUnavailable as down:
        raise ProblemError(503, "Invoicing service unavailable", detail=str(down)) from None
    except AutoRechargeUnavailable:
        raise ProblemError(
            409,
            "Auto-recharge unavailable",
            detail="an invoiced account has no prepaid balance: auto-recharge is off and stays off",
        ) from None
    except IncompleteAutoRecharge as incomplete:
        errors = [
            FieldError(field=name, reason="required when enabled") for name in incomplete.missing
        ]
        raise ProblemError(422, "Invalid request", detail=str(incomplete), errors=errors) from None
