"""Usage reports: the number usage report, as JSON or CSV."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from tally_gateway import usage_reads
from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import OwnAccountSid, UsageService
from tally_gateway.schemas_usage import NumberUsageReport

router = APIRouter(prefix="/v1", tags=["usage"])

MONTH_PATTERN = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"  # years 1900-2999: each has a next month

Month = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN,
        description="`YYYY-MM`, a month of the account's time zone; default the current one",
    ),
]


@router.get(
    "/Accounts/{sid}/NumberUsageReport",
    response_model=NumberUsageReport,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(401, 404, 422, 503),
    },
    description="""Every phone number the account's usage events named in one local month,
built on request from all stored usage (not from the nightly snapshot), so usage recorded a
moment ago is in it.

Per number: `number_type` as the latest event naming it in the month gave it (null if none
did) and `promo` when that is `promo`; `first_used` and `last_used`, local dates (`YYYY-MM-DD`)
in the account's time zone; `days_used`, the distinct local dates with any event naming it;
`calls` and `minutes`, the call events (`calls-*`) naming it and their minutes (a decimal
string); `in_use`, held (a `phone-numbers` event) on today's or yesterday's local date — now,
whichever month the report is for. Numbers are sorted by `phone_number`.

`format=csv` answers `text/csv`: a header row with the same columns in the same order, then
a row per number; booleans are `true`/`false` and a missing `number_type` is an empty cell.

A `404` also answers, for a few seconds after an account is opened, while the usage service
has not yet received the account's details.""",
)
async def number_usage_report(
    sid: OwnAccountSid,
    usage: UsageService,
    month: Month = None,
    format: Literal["json", "csv"] = "json",  # the query parameter's public name
) -> Response | NumberUsageReport:
    """The caller's number usage report for a local month."""
    if format == "csv":
        return await usage_reads.number_usage_csv(sid, month, usage=usage)
    return await usage_reads.number_usage_report(sid, month, usage=usage)
