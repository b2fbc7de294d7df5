"""The prepaid balance: read it, top it up with a card (CONTRACTS.md §3, Money)."""

import contextlib
import hashlib
import uuid
from typing import TypeVar

from fastapi import APIRouter, status
from pydantic import BaseModel, ValidationError
from tally_runtime.problems import Problem

from tally_gateway.api.openapi import IdempotencyKey, problems
from tally_gateway.dependencies import InvoicingService, OwnAccountSid
from tally_gateway.idempotency import AccountIdempotency
from tally_gateway.schemas_balance import BalancePublic, TopUpCreate, TopUpPublic
from tally_gateway.upstream import ServiceClient, relayed

router = APIRouter(prefix="/v1", tags=["balance"])

M = TypeVar("M", bound=BaseModel)


@router.get(
    "/Accounts/{sid}/Balance",
    responses=problems(401, 404, 409, 503),
    description="""The prepaid balance of a trial or pay-as-you-go account, rounded half-even to
the cent. Rated usage draws it down as it is rated; a trial starts with a 15.00 credit, which
carries over to pay as you go. `state` is decided on the exact balance, so a balance of less
than half a cent shows `0.00` but is still `low`. An invoiced account has no prepaid balance:
`409`.""",
)
async def get_balance(sid: OwnAccountSid, invoicing: InvoicingService) -> BalancePublic:
    """The prepaid balance and its state."""
    return await _call(invoicing, BalancePublic, "GET", f"/accounts/{sid}/balance")


@router.post(
    "/Accounts/{sid}/Balance/TopUps",
    status_code=status.HTTP_201_CREATED,
    dependencies=[AccountIdempotency],
    responses=problems(401, 402, 404, 409, 422, 503),
    description="""Charge the card and add `amount` to the balance. A declined card is a
`402` (`type` `urn:tally:problem:card-declined`) and a token that is not one a `422` naming
`card_token`; neither charges nor credits anything. An invoiced account is a `409`.

**Retries.** Send an `Idempotency-Key` header: the same key with the same body answers with
the first top-up (same `top_up_id`, same `balance`) and moves the balance once, however the
first attempt ended (lost answer, timeout, `503`); the same key with another body is a `409`.
The first answer is replayed for 24 hours; after that the same key still finds the same
top-up (its id is derived from the account and the key), so the balance never moves twice.
Without the header every request is a new top-up.""",
)
async def create_top_up(
    sid: OwnAccountSid,
    body: TopUpCreate,
    invoicing: InvoicingService,
    idempotency_key: IdempotencyKey = None,
) -> TopUpPublic:
    """Top up the prepaid balance with a card."""
    request = {
        "top_up_id": top_up_id_for(sid, idempotency_key),
        "amount": format(body.amount, "f"),
        "card_token": body.card_token,
    }
    return await _call(invoicing, TopUpPublic, "POST", f"/accounts/{sid}/top-ups", request)


def top_up_id_for(sid: str, idempotency_key: str | None) -> str:
    """The top-up's id: derived from the account and the key, so a retry finds the same one."""
    if idempotency_key is None:
        return f"TU{uuid.uuid4().hex}"
    digest = hashlib.sha256(f"{sid}\n{idempotency_key}".encode()).hexdigest()
    return f"TU{digest[:32]}"


async def _call(
    client: ServiceClient, model: type[M], method: str, path: str, body: object = None
) -> M:
    """As `client.call`, keeping the problem's `type` (a declined card's) when relaying it."""
    response = await client.send(method, path, body)
    if response.is_client_error:
        error = relayed(response)
        with contextlib.suppress(ValidationError):  # not a problem: relayed as a bare status
            error.problem.type = Problem.model_validate_json(response.content).type
        raise error
    return client.read(model, response)
