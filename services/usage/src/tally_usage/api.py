"""The usage service's internal HTTP API: receipts per event id, usage totals, and (from
`reports_api`) snapshots, the number usage report and parked records."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from tally_contracts.decimals import plain_decimal
from tally_contracts.errors import FieldError
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller

from tally_usage import handlers, reports_api
from tally_usage.domain import (
    KEPT_IDENTITY_CHARS,
)
from tally_usage.receipts import (
    EventHistory,
    ReceiptStatus,
    receipt_errors,
    receipt_status,
)

MAX_RECEIPTS = 1000
"""As many ids as the gateway accepts events in one request."""

MAX_ASKED_ID_CHARS = KEPT_IDENTITY_CHARS
"""The longest event id a receipt can be asked for: a rejected one is kept up to this length."""

router = APIRouter(dependencies=[Depends(internal_caller)])  # Tally's services only
router.include_router(reports_api.router)


class ReceiptsRequest(BaseModel):
    """The event ids a producer wants to know about."""

    # Any text, not only valid ids: an event rejected for its id can be asked about too.
    event_ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ASKED_ID_CHARS)]] = Field(
        min_length=1, max_length=MAX_RECEIPTS
    )


class Receipt(BaseModel):
    """What became of one event id; `recorded` and `conflict` both mean it counts exactly once."""

    event_id: str
    status: ReceiptStatus = Field(
        description=(
            "`recorded`: stored and counted once; if the same payload was sent again, the"
            " copies were ignored and are counted in `duplicates`. `conflict`: the first payload"
            " is stored and counted once, but a different payload was later sent under the same"
            " id (`conflicts` times) and was rejected, never applied. `rejected`: never stored,"
            " it broke the contract (see `errors`). `unknown`: nothing is stored under this id yet:"
            " nothing arrived, or it waits for its account's state (`/ops/awaiting-accounts`)"
            " and is recorded once that arrives."
        )
    )
    recorded_at: datetime | None = Field(description="when the counted payload was stored")
    duplicates: int = Field(description="repeats of the recorded payload, ignored")
    conflicts: int = Field(description="repeats with a different payload, rejected")
    errors: list[FieldError] = Field(
        description=(
            "`rejected`: why the latest copy was refused; `conflict`: why the repeat was refused"
        )
    )

    @classmethod
    def of(cls, event_id: str, history: EventHistory) -> "Receipt":
        """The receipt for one event id, from everything stored about it."""
        return cls(
            event_id=event_id,
            status=receipt_status(history),
            recorded_at=history.recorded_at,
            duplicates=history.duplicates,
            conflicts=history.conflicts,
            errors=receipt_errors(event_id, history),
        )


class ReceiptsResponse(BaseModel):
    account_sid: str
    receipts: list[Receipt]


class UsageSummary(BaseModel):
    """Everything stored for the account so far; quantities are decimal strings."""

    account_sid: str
    events: int = Field(description="stored events, each event id counted once")
    events_by_category: dict[str, int]
    quantity_by_category: dict[str, str] = Field(
        description="summed quantity per category (minutes, messages or number-days)"
    )


@router.post("/accounts/{sid}/receipts")
async def receipts(
    sid: AccountSidPath, body: ReceiptsRequest, pool: DatabasePool
) -> ReceiptsResponse:
    """What became of each given event id of the account, in the order asked."""
    histories = await handlers.event_histories(sid, body.event_ids, pool=pool)
    return ReceiptsResponse(
        account_sid=sid,
        # One receipt per id asked, in the order asked, even when an id is asked twice.
        receipts=[Receipt.of(event_id, histories[event_id]) for event_id in body.event_ids],
    )


@router.get("/accounts/{sid}/usage/summary")
async def usage_summary(sid: AccountSidPath, pool: DatabasePool) -> UsageSummary:
    """Count of stored events and total quantity per category for the account."""
    totals = await handlers.usage_summary(sid, pool=pool)
    return UsageSummary(
        account_sid=sid,
        events=sum(total.events for total in totals),
        events_by_category={total.category: total.events for total in totals},
        quantity_by_category={total.category: plain_decimal(total.quantity) for total in totals},
    )
