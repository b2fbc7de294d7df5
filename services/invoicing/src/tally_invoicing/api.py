"""Invoicing's internal HTTP API: charges and balances per account, money as decimal strings."""

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, PlainSerializer
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_contracts.decimals import plain_decimal
from tally_contracts.usage import UsageCategory
from tally_runtime.account_states import known_account
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_invoicing import handlers, prepaid_api
from tally_invoicing.domain import CURRENCY, Charge

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only
router.include_router(prepaid_api.router)

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


Money = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]
"""A USD amount at full precision, as a decimal string."""

Quantity = Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]


class ChargePublic(BaseModel):
    """One rated usage event."""

    charge_id: str
    usage_event_id: str
    category: UsageCategory
    quantity: Quantity
    unit_price: Money
    amount: Money = Field(description="quantity x unit_price, to the micro-dollar")
    currency: str = CURRENCY
    usage_occurred_at: datetime
    charged_at: datetime

    @classmethod
    def of(cls, charge: Charge) -> "ChargePublic":
        """The public shape of a domain charge."""
        return cls(
            charge_id=charge.charge_id,
            usage_event_id=charge.usage_event_id,
            category=charge.category,
            quantity=charge.quantity,
            unit_price=charge.unit_price,
            amount=charge.amount,
            usage_occurred_at=charge.usage_occurred_at,
            charged_at=charge.charged_at,
        )


class ChargesPublic(BaseModel):
    """The account's most recent charges, and the count and total of all of them."""

    account_sid: str
    currency: str = CURRENCY
    count: int = Field(description="how many charges the account has in all")
    total: Money = Field(description="the sum of all its charges, unrounded")
    charges: list[ChargePublic] = Field(description="the most recent ones, newest first")


class KnownAccountPublic(BaseModel):
    """The account state invoicing rates by; it lags accounts by the time the topic takes."""

    account_sid: str
    version: int
    billing_mode: BillingMode
    status: AccountStatus
    time_zone: str


@router.get("/accounts/{sid}", responses={404: _PROBLEM, 422: _PROBLEM})
async def get_known_account(sid: AccountSidPath, pool: DatabasePool) -> KnownAccountPublic:
    """The newest account state invoicing has consumed; 404 until it has seen the account."""
    known = await known_account(pool, sid)
    if known is None:
        raise ProblemError(404, "Account not known to invoicing", f"no state for {sid} yet")
    return KnownAccountPublic(**dataclasses.asdict(known))


@router.get("/accounts/{sid}/charges", responses={422: _PROBLEM})
async def list_charges(
    sid: AccountSidPath, pool: DatabasePool, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ChargesPublic:
    """The account's charges, newest first, with their total at full precision."""
    found = await handlers.list_charges(sid, pool=pool, limit=limit)
    return ChargesPublic(
        account_sid=sid,
        count=found.count,
        total=found.total,
        charges=[ChargePublic.of(charge) for charge in found.charges],
    )
