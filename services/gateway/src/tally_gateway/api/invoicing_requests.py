"""Invoicing requests (ops): the multi-step way to invoiced billing, relayed to accounts."""

from fastapi import APIRouter, Depends, Query, Response, status

from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, IdempotencyKey, problems
from tally_gateway.dependencies import AccountsService
from tally_gateway.idempotency import OpsIdempotency
from tally_gateway.schemas_invoicing_requests import (
    ActivationPost,
    CreditCheckPost,
    CreditCheckRecord,
    DecisionPost,
    InformationRequestPost,
    InvoicingRequestCreate,
    InvoicingRequestList,
    InvoicingRequestPublic,
    OpsCaller,
    PricingAgreed,
    RequestId,
    RequestState,
    ops_identity,
)

router = APIRouter(prefix="/v1", tags=["invoicing requests"], dependencies=[Depends(ops_identity)])

_STEPS = """A request's `state` runs `pricing` (on creation) → `credit_check` (after Pricing) →
`approved` or `declined` (after Decision) → `activated` (after Activation); CreditCheck and
InformationRequests keep it in `credit_check`. A step its state does not allow is a `409`
whose `allowed` lists the steps it does, as `history` names them: `pricing`, `credit_check`,
`information_request`, `decision`, `activation` (the request's `next_steps` says the same).
Every step is in `history` with `by` and `at`; `created` is recorded as taken by the ops key
(`ops-key:` and the first 12 hex digits of its SHA-256). `open_too_long` is true while a
request is neither declined nor activated more than 5 weeks after `created_at`."""


@router.post(
    "/InvoicingRequests",
    dependencies=[OpsIdempotency],
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 409, 422, 503)
    | {
        200: {
            "model": InvoicingRequestPublic,
            "description": "a retry the gateway had no answer for",
        }
    },
    description=f"""Open an invoicing request for an account (ops key). A committed annual
spend below 12000.00 is a `422` naming `committed_annual_spend`; an account that does not
exist is a `422` naming `account_sid`. An account has at most one open request (pricing,
credit check or approved): a second is a `409` naming the open one. With an
`Idempotency-Key`, the same body again answers with the first response (below); should the
first attempt have ended in a `5xx`, its retry finds the request the accounts service opened
under that key and answers `200` with it.

{_STEPS}"""
    + IDEMPOTENT_RETRIES,
)
async def create_request(
    body: InvoicingRequestCreate,
    response: Response,
    caller: OpsCaller,
    accounts: AccountsService,
    idempotency_key: IdempotencyKey = None,
) -> InvoicingRequestPublic:
    """Open an invoicing request (ops key)."""
    params = {"caller": caller} | ({"idempotency_key": idempotency_key} if idempotency_key else {})
    answer = await accounts.send(
        "POST", "/invoicing-requests", body.model_dump(mode="json"), params=params
    )
    request = accounts.read(InvoicingRequestPublic, answer)
    response.status_code = answer.status_code
    return request


@router.get("/InvoicingRequests", responses=problems(401, 422, 503))
async def list_requests(
    accounts: AccountsService, state: RequestState | None = None
) -> InvoicingRequestList:
    """Every invoicing request, or those in `state`, oldest first (ops key)."""
    params = {"state": state.value} if state else None
    return await accounts.call(InvoicingRequestList, "GET", "/invoicing-requests", params=params)


@router.get("/InvoicingRequests/{request_id}", responses=problems(401, 404, 503))
async def get_request(request_id: RequestId, accounts: AccountsService) -> InvoicingRequestPublic:
    """One invoicing request, with its history (ops key)."""
    return await accounts.call(InvoicingRequestPublic, "GET", f"/invoicing-requests/{request_id}")


@router.post(
    "/InvoicingRequests/{request_id}/Pricing",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""The agreed pricing structure: flat unit prices (decimal strings, at most 6
places) for the usage categories they name (the default card prices the others), a discount
(percent, at most 2 places, below 100) and net terms (0 to 180 days). The request moves to
`credit_check`. Allowed once, in `pricing`."""
    + IDEMPOTENT_RETRIES,
)
async def record_pricing(
    request_id: RequestId, body: PricingAgreed, accounts: AccountsService
) -> InvoicingRequestPublic:
    """Record the agreed pricing (ops key)."""
    path = f"/invoicing-requests/{request_id}/pricing"
    return await accounts.call(InvoicingRequestPublic, "POST", path, body.model_dump(mode="json"))


@router.post(
    "/InvoicingRequests/{request_id}/CreditCheck",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""Add credit-check data, any subset, in `credit_check`. Later posts add to
earlier ones: a field sent again replaces the stored one, except `accounting_contact` and
`additional_information` (merged key by key: anything else asked for, by name) and
`financial_statements` (document references, appended). The data is encrypted at rest,
never logged nor published, and not in this answer: read it with `GET …/CreditCheck`. A
`422` names the offending fields and never repeats their values."""
    + IDEMPOTENT_RETRIES,
)
async def record_credit_check(
    request_id: RequestId, body: CreditCheckPost, accounts: AccountsService
) -> InvoicingRequestPublic:
    """Add credit-check data (ops key)."""
    path = f"/invoicing-requests/{request_id}/credit-check"
    data = body.model_dump(mode="json", exclude_unset=True)
    return await accounts.call(InvoicingRequestPublic, "POST", path, data)


@router.get(
    "/InvoicingRequests/{request_id}/CreditCheck",
    responses=problems(401, 404, 503),
    description="""The credit-check data, decrypted, in any state; fields never given are
`null`. Every read is audited first, with the ops key's fingerprint, the optional `by` (who is
reading), when, and which request: no data is answered whose read was not recorded.""",
)
async def read_credit_check(
    request_id: RequestId,
    caller: OpsCaller,
    accounts: AccountsService,
    by: str | None = Query(None, min_length=1, max_length=128, description="who is reading"),
) -> CreditCheckRecord:
    """Read the credit-check data; the read is audited (ops key)."""
    params = {"caller": caller} | ({"by": by} if by else {})
    path = f"/invoicing-requests/{request_id}/credit-check"
    return await accounts.call(CreditCheckRecord, "GET", path, params=params)


@router.post(
    "/InvoicingRequests/{request_id}/InformationRequests",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""Ask the customer for more information, in `credit_check` (it stays
there). The request keeps the questions; the fact is published (without any credit-check data)
so that the customer is notified. The customer's answers come back as CreditCheck posts."""
    + IDEMPOTENT_RETRIES,
)
async def request_information(
    request_id: RequestId, body: InformationRequestPost, accounts: AccountsService
) -> InvoicingRequestPublic:
    """Ask the customer for more (ops key)."""
    path = f"/invoicing-requests/{request_id}/information-requests"
    return await accounts.call(InvoicingRequestPublic, "POST", path, body.model_dump(mode="json"))


@router.post(
    "/InvoicingRequests/{request_id}/Decision",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""`{approved: true, credit_limit, by}` → `approved`, or `{approved: false,
reason, by}` → `declined` (closed for good). From `credit_check` only. Once approved, the
owner's later trial accounts are eligible for the self-service upgrade on these terms."""
    + IDEMPOTENT_RETRIES,
)
async def decide(
    request_id: RequestId, body: DecisionPost, accounts: AccountsService
) -> InvoicingRequestPublic:
    """Approve or decline (ops key)."""
    path = f"/invoicing-requests/{request_id}/decision"
    data = body.model_dump(mode="json", exclude_none=True)
    return await accounts.call(InvoicingRequestPublic, "POST", path, data)


@router.post(
    "/InvoicingRequests/{request_id}/Activation",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""From `approved`: the account becomes `invoiced` with the agreed terms
(rates, discount, net terms, credit limit) and auto-recharge off, in the same step as the
request becomes `activated`. An account already invoiced keeps its mode and terms."""
    + IDEMPOTENT_RETRIES,
)
async def activate(
    request_id: RequestId, body: ActivationPost, accounts: AccountsService
) -> InvoicingRequestPublic:
    """Switch the account to invoiced billing (ops key)."""
    path = f"/invoicing-requests/{request_id}/activation"
    return await accounts.call(InvoicingRequestPublic, "POST", path, body.model_dump(mode="json"))
