"""Invoicing's internal HTTP API: charges and balances per account (money as strings)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from tally_contracts.envelope import ACCOUNT_SID_PATTERN
from tally_contracts.usage import UsageCategory

from tally_invoicing import repository
from tally_invoicing.domain import CURRENCY

router = APIRouter()

Sid = Annotated[
    str, Path(pattern=ACCOUNT_SID_PATTERN.pattern, description="AC + 32 lowercase hex digits")
]


class Health(BaseModel):
    status: str = "ok"


class ChargePublic(BaseModel):
    charge_id: str
    usage_event_id: str
    category: UsageCategory
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    currency: str
    usage_occurred_at: datetime
    charged_at: datetime


class ChargesPublic(BaseModel):
    """The account's most recent charges, and the count and total of all of them."""

    account_sid: str
    currency: str
    count: int
    total: Decimal
    charges: list[ChargePublic]


class BalancePublic(BaseModel):
    """The prepaid balance; `updated_at` is null for an account never charged."""

    account_sid: str
    balance: Decimal
    currency: str
    updated_at: datetime | None


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


@router.get("/health")
async def health() -> Health:
    """The process is up."""
    return Health()


@router.get("/accounts/{sid}/charges")
async def list_charges(
    request: Request, sid: Sid, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ChargesPublic:
    """The account's charges, newest first, with their total at full precision."""
    pool = _pool(request)
    # One snapshot, so the listed charges and the total agree.
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await repository.fetch_charges(conn, sid, limit)
        count, total = await repository.charges_summary(conn, sid)
    return ChargesPublic(
        account_sid=sid,
        currency=CURRENCY,
        count=count,
        total=total,
        charges=[ChargePublic.model_validate(dict(row)) for row in rows],
    )


@router.get("/accounts/{sid}/balance")
async def get_balance(request: Request, sid: Sid) -> BalancePublic:
    """The account's prepaid balance; an account never charged has 0."""
    async with _pool(request).acquire() as conn:
        row = await repository.fetch_balance(conn, sid)
    if row is None:
        return BalancePublic(
            account_sid=sid, balance=Decimal(0), currency=CURRENCY, updated_at=None
        )
    return BalancePublic(account_sid=sid, **dict(row))
