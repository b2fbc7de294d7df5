"""The internal API of invoicing requests (`/invoicing-requests`), behind the gateway's ops routes.

Every call names its ops caller in `?caller=` (the gateway sends a short fingerprint of the
ops key, `ops-key:<12 hex>`): the `created` step is recorded as taken by it, and each read
of credit-check data is audited with it and the optional `?by=` name.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from tally_contracts.invoicing_requests import (
    ActivationPost,
    CreditCheckPost,
    CreditCheckRecord,
    DecisionPost,
    InformationRequestPost,
    InvoicingRequestCreate,
    InvoicingRequestList,
    InvoicingRequestPublic,
    PricingAgreed,
    RequestState,
)
from tally_runtime.clock import Clock
from tally_runtime.http import DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem

from tally_accounts.invoicing_requests import credit_check_handlers, handlers
from tally_accounts.invoicing_requests.crypto import CreditCheckCipher
from tally_accounts.invoicing_requests.domain import Pricing
from tally_accounts.invoicing_requests.problems import as_problem
from tally_accounts.invoicing_requests.views import public

router = APIRouter(
    prefix="/invoicing-requests",
    tags=["invoicing requests"],
    dependencies=[Depends(internal_caller)],
)

_PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status_code: _PROBLEM for status_code in statuses}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _cipher(request: Request) -> CreditCheckCipher:
    settings = request.app.state.settings
    return CreditCheckCipher(
        settings.credit_check_keys.get_secret_value(), environment=settings.environment
    )


RequestClock = Annotated[Clock, Depends(_clock)]
Cipher = Annotated[CreditCheckCipher, Depends(_cipher)]
Caller = Annotated[
    str, Query(min_length=1, max_length=128, description="the ops caller, e.g. ops-key:<hex>")
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=_problems(401, 409, 422) | {200: {"description": "a retry with the same key"}},
)
async def create_request(
    body: InvoicingRequestCreate,
    caller: Caller,
    response: Response,
    pool: DatabasePool,
    clock: RequestClock,
    idempotency_key: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
) -> InvoicingRequestPublic:
    """Open a request in `pricing`; an unknown account is a 422 naming `account_sid`."""
    with as_problem():
        request, new = await handlers.create_request(
            body, caller=caller, idempotency_key=idempotency_key, pool=pool, clock=clock
        )
    if not new:
        response.status_code = status.HTTP_200_OK
    return public(request, now=clock())


@router.get("", responses=_problems(401, 422))
async def list_requests(
    pool: DatabasePool, clock: RequestClock, state: RequestState | None = None
) -> InvoicingRequestList:
    """Every request, or those in `state`, oldest first."""
    found = await handlers.list_requests(state, pool=pool)
    now = clock()
    return InvoicingRequestList(invoicing_requests=[public(r, now=now) for r in found])


@router.get("/{request_id}", responses=_problems(401, 404))
async def get_request(
    request_id: str, pool: DatabasePool, clock: RequestClock
) -> InvoicingRequestPublic:
    """One request, with its history."""
    with as_problem():
        return public(await handlers.find_request(request_id, pool=pool), now=clock())


@router.post("/{request_id}/pricing", responses=_problems(401, 404, 409, 422))
async def record_pricing(
    request_id: str, body: PricingAgreed, pool: DatabasePool, clock: RequestClock
) -> InvoicingRequestPublic:
    """The agreed pricing; the request moves to `credit_check`."""
    pricing = Pricing(
        rates={category.value: price for category, price in body.rates.items()},
        discount_percent=body.discount_percent,
        net_terms_days=body.net_terms_days,
    )
    with as_problem():
        request = await handlers.record_pricing(
            request_id, pricing, by=body.by, pool=pool, clock=clock
        )
    return public(request, now=clock())


@router.post("/{request_id}/credit-check", responses=_problems(401, 404, 409, 422))
async def record_credit_check(
    request_id: str, body: CreditCheckPost, pool: DatabasePool, clock: RequestClock, cipher: Cipher
) -> InvoicingRequestPublic:
    """Add credit-check data (any subset; it is stored sealed); the request stays in its check."""
    data = body.model_dump(mode="json", exclude_unset=True, exclude={"by"})
    with as_problem():
        request = await credit_check_handlers.record_credit_check(
            request_id, data, by=body.by, cipher=cipher, pool=pool, clock=clock
        )
    return public(request, now=clock())


@router.get("/{request_id}/credit-check", responses=_problems(401, 404, 422))
async def read_credit_check(
    request_id: str,
    caller: Caller,
    pool: DatabasePool,
    clock: RequestClock,
    cipher: Cipher,
    by: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> CreditCheckRecord:
    """The credit-check data, opened; the read is audited (caller, `by`, when, which request)."""
    with as_problem():
        data = await credit_check_handlers.read_credit_check(
            request_id, caller=caller, read_by=by, cipher=cipher, pool=pool, clock=clock
        )
    return CreditCheckRecord.model_validate({**data, "request_id": request_id})


@router.post("/{request_id}/information-requests", responses=_problems(401, 404, 409, 422))
async def request_information(
    request_id: str, body: InformationRequestPost, pool: DatabasePool, clock: RequestClock
) -> InvoicingRequestPublic:
    """Ask the customer for more; the request stays in its credit check."""
    with as_problem():
        request = await handlers.request_information(
            request_id, list(body.items), by=body.by, pool=pool, clock=clock
        )
    return public(request, now=clock())


@router.post("/{request_id}/decision", responses=_problems(401, 404, 409, 422))
async def decide(
    request_id: str, body: DecisionPost, pool: DatabasePool, clock: RequestClock
) -> InvoicingRequestPublic:
    """Approved with a credit limit, or declined with a reason."""
    with as_problem():
        request = await handlers.decide(
            request_id,
            credit_limit=body.credit_limit if body.approved else None,
            reason=body.reason,
            by=body.by,
            pool=pool,
            clock=clock,
        )
    return public(request, now=clock())


@router.post("/{request_id}/activation", responses=_problems(401, 404, 409, 422))
async def activate(
    request_id: str, body: ActivationPost, pool: DatabasePool, clock: RequestClock
) -> InvoicingRequestPublic:
    """The account becomes invoiced on the agreed terms, auto-recharge off, in one step."""
    with as_problem():
        request = await handlers.activate(request_id, by=body.by, pool=pool, clock=clock)
    return public(request, now=clock())
