"""Invoicing's internal HTTP API for prepaid money: balances, top-ups, card authorizations."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from tally_contracts.decimals import plain_decimal
from tally_contracts.errors import FieldError
from tally_runtime.clock import Clock
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_invoicing import prepaid, top_ups
from tally_invoicing.domain import CURRENCY
from tally_invoicing.payments import CardOutcome, PaymentProvider

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}

CARD_DECLINED = "urn:tally:problem:card-declined"
"""The problem type of a card the payment provider declined."""

Cents = Annotated[Decimal, PlainSerializer(lambda d: format(prepaid.to_cent(d), "f"), str)]
"""Money shown to the cent, rounded half-even ("12.50")."""

Exact = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]
"""Money at full precision, as a decimal string."""

TopUpAmount = Annotated[
    Decimal, Field(gt=0, le=prepaid.MAX_TOP_UP, decimal_places=2, description="USD, > 0")
]


async def _provider(request: Request) -> PaymentProvider:
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


Provider = Annotated[PaymentProvider, Depends(_provider)]
RequestClock = Annotated[Clock, Depends(_clock)]


class BalancePublic(BaseModel):
    """A prepaid balance: charges draw it down, top-ups and the trial credit raise it."""

    account_sid: str
    balance: Cents = Field(description="rounded half-even to the cent")
    exact_balance: Exact = Field(description="the same at full precision")
    currency: str = CURRENCY
    low_balance_threshold: Cents
    state: prepaid.BalanceState = Field(
        description="`depleted` at or below 0, `low` at or below the threshold, else `ok`;"
        " decided on the exact balance"
    )
    updated_at: datetime | None = Field(description="null while nothing has moved the balance")


class TopUpCreate(BaseModel):
    """Charge a card and credit the balance; `top_up_id` makes a retry safe."""

    model_config = ConfigDict(extra="forbid")

    top_up_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="idempotency key")
    amount: TopUpAmount
    card_token: str = Field(min_length=1, max_length=255)


class TopUpPublic(BaseModel):
    """A top-up made: what it added and the balance right after it."""

    top_up_id: str
    amount: Cents
    balance: Cents = Field(description="right after the top-up, rounded half-even to the cent")


class AuthorizationCreate(BaseModel):
    """A card to check before it is stored, e.g. for auto-recharge."""

    model_config = ConfigDict(extra="forbid")

    card_token: str = Field(min_length=1, max_length=255)


class AuthorizationPublic(BaseModel):
    """Whether the payment provider would accept the card, and why not."""

    approved: bool
    reason: str | None


def _invoiced(error: prepaid.InvoicedAccountError) -> ProblemError:
    return ProblemError(
        409,
        "Invoiced account",
        f"{error.account_sid} is invoiced: invoiced accounts have no prepaid balance; their"
        " usage is billed on the monthly invoice",
    )


def _refused(error: prepaid.CardRefusedError) -> ProblemError:
    reason = error.answer.reason or "the card was not accepted"
    if error.answer.outcome is CardOutcome.INVALID_TOKEN:
        errors = [FieldError(field="card_token", reason=reason)]
        return ProblemError(422, "Invalid request", f"card_token: {reason}", errors)
    refused = ProblemError(
        402,
        "Card declined",
        f"nothing was charged or credited: {reason}",
        [FieldError(field="card_token", reason=reason)],
    )
    # ProblemError has no parameter for the type; the problem it made is ours to complete.
    refused.problem.type = CARD_DECLINED
    return refused


@router.get("/accounts/{sid}/balance", responses={409: _PROBLEM, 422: _PROBLEM})
async def get_balance(sid: AccountSidPath, pool: DatabasePool) -> BalancePublic:
    """The prepaid balance and its state; an account nothing moved yet has 0; invoiced is 409."""
    try:
        view = await top_ups.balance_view(sid, pool=pool)
    except prepaid.InvoicedAccountError as error:
        raise _invoiced(error) from None
    return BalancePublic(
        account_sid=sid,
        balance=view.balance.amount,
        exact_balance=view.balance.amount,
        low_balance_threshold=view.low_balance_threshold,
        state=view.state,
        updated_at=view.balance.updated_at,
    )


@router.post(
    "/accounts/{sid}/top-ups",
    status_code=status.HTTP_201_CREATED,
    responses={402: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
async def create_top_up(
    sid: AccountSidPath,
    body: TopUpCreate,
    pool: DatabasePool,
    provider: Provider,
    clock: RequestClock,
) -> TopUpPublic:
    """Charge the card and credit the balance once per `top_up_id`; a repeat gets the first answer.

    The same `top_up_id` with another amount, card or account is a 409; a declined card a 402
    that changes nothing; an invoiced account a 409.
    """
    request = prepaid.TopUpRequest(
        top_up_id=body.top_up_id, account_sid=sid, amount=body.amount, card_token=body.card_token
    )
    try:
        made = await top_ups.top_up(request, pool=pool, provider=provider, clock=clock)
    except prepaid.InvoicedAccountError as error:
        raise _invoiced(error) from None
    except prepaid.TopUpConflictError as error:
        raise ProblemError(
            409,
            "Top-up already made with another body",
            f"{error}: a retry must send the same amount and card; another top-up needs another"
            " id (through the gateway, another Idempotency-Key)",
        ) from None
    except prepaid.CardRefusedError as error:
        raise _refused(error) from None
    return TopUpPublic(top_up_id=made.top_up_id, amount=made.amount, balance=made.balance)


@router.post("/cards/authorizations", responses={422: _PROBLEM})
async def authorize_card(body: AuthorizationCreate, provider: Provider) -> AuthorizationPublic:
    """Whether the card would be accepted (a declined or invalid one is not); nothing is charged."""
    answer = await top_ups.authorize_card(body.card_token, provider=provider)
    return AuthorizationPublic(approved=answer.approved, reason=answer.reason)
