"""The billing page's data: the month's usage so far, priced, and its invoice once concluded."""

from typing import Annotated

from fastapi import APIRouter, Query

from tally_gateway import billing_reads
from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import InvoicingService, OwnAccountSid, RequestClock, UsageService
from tally_gateway.schemas_money import MONTH_PATTERN, BillingPage

router = APIRouter(prefix="/v1", tags=["billing"])

Month = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN,
        description="`YYYY-MM`, a month of the account's time zone; default the current one",
    ),
]


@router.get(
    "/Accounts/{sid}/Billing",
    responses=problems(401, 404, 422, 503),
    description="""The billing page's data for one local month (default: the current one).

`usage` comes from the month's latest nightly snapshot: every category, from the start of the
month to the end of `snapshot.through` (a local date); `snapshot` is null, and every quantity
`0`, until the month's first snapshot. Each `amount` is what the month's invoice would charge
for that quantity: the price on the account's card (the public price list, or the agreed rates
of an invoiced account; tiers graduated over the month's quantity), rounded half-even to the
cent. `total_amount` is the sum of the amounts less the account's negotiated discount, if it
has one (rounded as the invoice's discount line), so it equals the invoice's total for that
usage before adjustments; prices are those of the account's current terms.

`invoice` is the summary of the month's invoice (as in `GET …/Invoices`) once the month has
concluded and been invoiced, else null: a month that has not ended, or had nothing to invoice.
A `404` also answers, for a few seconds after an account is opened, while the usage or
invoicing service has not yet received the account's details.""",
)
async def billing(
    sid: OwnAccountSid,
    usage: UsageService,
    invoicing: InvoicingService,
    clock: RequestClock,
    month: Month = None,
) -> BillingPage:
    """The caller's billing page data for a local month."""
    return await billing_reads.billing_page(
        sid, month, usage=usage, invoicing=invoicing, now=clock()
    )
