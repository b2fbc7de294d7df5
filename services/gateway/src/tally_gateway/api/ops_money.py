"""Ops on money (ops key): close a month into invoices, scan for overdue ones, record payments."""

from fastapi import APIRouter, Depends

from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, problems
from tally_gateway.dependencies import InvoicingService, ops_caller
from tally_gateway.idempotency import OpsIdempotency
from tally_gateway.schemas_money import (
    BillingRunCreate,
    BillingRunPublic,
    Invoice,
    OverdueScanCreate,
    OverdueScanPublic,
    PaymentCreate,
)

router = APIRouter(prefix="/v1", tags=["ops"], dependencies=[Depends(ops_caller)])

BILLING_RUN_SECONDS = 600.0
"""How long the gateway waits for a billing run: 100,000 accounts take about a minute."""


@router.post(
    "/Ops/BillingRuns",
    dependencies=[OpsIdempotency],
    responses=problems(401, 409, 422, 503),
    description="""Close `month` for every account whose local month (in its own time zone) has
ended: exactly one invoice per account and month with usage or adjustments, however often or
concurrently it is asked. `invoices_issued` counts those this run issued, `already_issued`
those that existed before it, `not_concluded` the accounts whose local month has not ended yet
(ask again later; the service also closes months by itself). Answers `200`: a run creates
invoices but is itself nothing a client keeps."""
    + IDEMPOTENT_RETRIES,
)
async def billing_run(body: BillingRunCreate, invoicing: InvoicingService) -> BillingRunPublic:
    """Close a month into invoices now (ops key)."""
    return await invoicing.call(
        BillingRunPublic,
        "POST",
        "/ops/billing-runs",
        body.model_dump(mode="json"),
        wait_seconds=BILLING_RUN_SECONDS,
    )


@router.post(
    "/Ops/OverdueScans",
    dependencies=[OpsIdempotency],
    responses=problems(401, 409, 422, 503),
    description="""Mark every unpaid invoice of an invoiced account that is past its due date at
`as_of` `overdue`, each once: `overdue` counts those this scan marked, so asking again answers
`0`. The service also scans by itself."""
    + IDEMPOTENT_RETRIES,
)
async def overdue_scan(body: OverdueScanCreate, invoicing: InvoicingService) -> OverdueScanPublic:
    """Mark unpaid invoiced invoices past their due date overdue (ops key)."""
    return await invoicing.call(
        OverdueScanPublic, "POST", "/ops/overdue-scans", body.model_dump(mode="json")
    )


@router.post(
    "/Ops/Payments",
    dependencies=[OpsIdempotency],
    responses=problems(401, 404, 409, 422, 503),
    description="""Record a payment received for an invoice; the answer is the invoice, `paid`
once its payments cover its `amount_due`. `reference` is the payment's idempotency key: a
repeat with the same reference is the same payment and is counted once (so no
`Idempotency-Key` header is needed, though one is honoured too). An unknown `invoice_id` is a
`404`."""
    + IDEMPOTENT_RETRIES,
)
async def payment(body: PaymentCreate, invoicing: InvoicingService) -> Invoice:
    """Record a payment against an invoice (ops key)."""
    return await invoicing.call(Invoice, "POST", "/ops/payments", body.model_dump(mode="json"))
