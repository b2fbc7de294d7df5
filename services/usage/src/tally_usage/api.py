"""The usage service's internal HTTP API: health, receipts per event id, usage totals."""

from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from tally_contracts.envelope import ACCOUNT_SID_PATTERN
from tally_contracts.errors import FieldError
from tally_contracts.usage import EventId, UsageCategory

from tally_usage import handlers
from tally_usage.domain import ReceiptStatus, decimal_text, receipt_errors, receipt_status

MAX_RECEIPTS = 1000
"""As many ids as the gateway accepts events in one request."""

router = APIRouter()


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
AccountSidPath = Annotated[
    str, Path(pattern=ACCOUNT_SID_PATTERN.pattern, description="`AC` + 32 lowercase hex digits")
]


class Health(BaseModel):
    status: str = "ok"


class ReceiptsRequest(BaseModel):
    """The event ids a producer wants to know about."""

    event_ids: list[EventId] = Field(min_length=1, max_length=MAX_RECEIPTS)


class Receipt(BaseModel):
    """What became of one event id; `recorded`, `duplicate` and `conflict` all count it once."""

    event_id: str
    status: ReceiptStatus = Field(
        description=(
            "`recorded`: stored and counted once. `duplicate`: stored and counted once; the same"
            " payload was sent again `duplicates` times and the copies were ignored. `conflict`:"
            " the first payload is stored and counted once; a different payload was sent under"
            " the same id `conflicts` times and was rejected. `rejected`: never stored, it broke"
            " the contract (see `errors`). `unknown`: nothing arrived under this id (yet)."
        )
    )
    recorded_at: datetime | None = Field(description="when the counted payload was stored")
    duplicates: int = Field(description="repeats of the recorded payload, ignored")
    conflicts: int = Field(description="repeats with a different payload, rejected")
    errors: list[FieldError] = Field(
        description="for `rejected`: why the latest copy was refused; for `conflict`: why the"
        " repeat was refused"
    )


class ReceiptsResponse(BaseModel):
    account_sid: str
    receipts: list[Receipt]


class CategoryUsage(BaseModel):
    category: str
    unit: str | None = Field(description="what one unit of quantity counts")
    events: int
    quantity: str = Field(description="the summed quantity, a decimal string")


class UsageSummary(BaseModel):
    """Everything stored for the account so far, per category."""

    account_sid: str
    events: int
    categories: list[CategoryUsage]


@router.get("/health")
async def health() -> Health:
    """Answers while the process runs."""
    return Health()


@router.post("/accounts/{sid}/receipts")
async def receipts(sid: AccountSidPath, body: ReceiptsRequest, pool: Pool) -> ReceiptsResponse:
    """What became of each given event id of the account, in the order asked."""
    histories = await handlers.event_histories(sid, body.event_ids, pool=pool)
    return ReceiptsResponse(
        account_sid=sid,
        receipts=[
            Receipt(
                event_id=event_id,
                status=receipt_status(history),
                recorded_at=history.recorded_at,
                duplicates=history.duplicates,
                conflicts=history.conflicts,
                errors=receipt_errors(event_id, history),
            )
            for event_id, history in histories.items()
        ],
    )


@router.get("/accounts/{sid}/usage/summary")
async def usage_summary(sid: AccountSidPath, pool: Pool) -> UsageSummary:
    """Count of stored events and total quantity per category for the account."""
    totals = await handlers.usage_summary(sid, pool=pool)
    units = {category.value: category.unit for category in UsageCategory}
    return UsageSummary(
        account_sid=sid,
        events=sum(total.events for total in totals),
        categories=[
            CategoryUsage(
                category=total.category,
                unit=units.get(total.category),
                events=total.events,
                quantity=decimal_text(total.quantity),
            )
            for total in totals
        ],
    )
