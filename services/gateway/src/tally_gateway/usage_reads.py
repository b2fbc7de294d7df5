"""The gateway's usage reads: receipts, the number usage report, snapshots, from the usage service.

The usage service's internal API words receipts its own way; the contract's wording is decided
here, in `public_receipt`.
"""

from datetime import datetime

from starlette.responses import Response

from tally_gateway.schemas_usage import (
    NumberUsageReport,
    Receipt,
    Receipts,
    ReceiptStatus,
    UpstreamReceipt,
    UpstreamReceipts,
    UsageSnapshotsTaken,
)
from tally_gateway.upstream import ServiceClient, relayed


def public_receipt(found: UpstreamReceipt) -> Receipt:
    """A receipt in the contract's words.

    A conflict's first payload is stored and counts once: it is `recorded`, with the refused
    repeats in `conflicts`. A rejected event names the first rule it broke.
    """
    if found.status in {"recorded", "conflict"}:
        status = ReceiptStatus.RECORDED
    elif found.status == "rejected":
        status = ReceiptStatus.REJECTED
    else:
        status = ReceiptStatus.UNKNOWN
    first_error = found.errors[0] if status is ReceiptStatus.REJECTED and found.errors else None
    return Receipt(
        event_id=found.event_id,
        status=status,
        duplicates=found.duplicates if status is ReceiptStatus.RECORDED else 0,
        conflicts=found.conflicts if status is ReceiptStatus.RECORDED else 0,
        field=first_error.field if first_error else None,
        reason=first_error.reason if first_error else None,
    )


async def receipts(sid: str, event_ids: list[str], *, usage: ServiceClient) -> Receipts:
    """What became of each event id of the account, in the order asked."""
    found = await usage.call(
        UpstreamReceipts, "POST", f"/accounts/{sid}/receipts", {"event_ids": event_ids}
    )
    return Receipts(receipts=[public_receipt(receipt) for receipt in found.receipts])


SNAPSHOT_RUN_SECONDS = 600.0
"""How long the gateway waits for a snapshot run: every account at once takes a while."""


async def take_snapshots(as_of: datetime, *, usage: ServiceClient) -> UsageSnapshotsTaken:
    """Every account's usage snapshot due at `as_of`, now."""
    body = {"as_of": as_of.isoformat()}
    return await usage.call(
        UsageSnapshotsTaken, "POST", "/ops/usage-snapshots", body, wait_seconds=SNAPSHOT_RUN_SECONDS
    )


async def number_usage_report(
    sid: str, month: str | None, *, usage: ServiceClient
) -> NumberUsageReport:
    """The account's number usage report for `month` (default: its current local month)."""
    params = {"month": month} if month else None
    return await usage.call(
        NumberUsageReport, "GET", f"/accounts/{sid}/number-usage-report", params=params
    )


async def number_usage_csv(sid: str, month: str | None, *, usage: ServiceClient) -> Response:
    """The account's number usage report for `month`, as the usage service wrote it in CSV,
    sent as a download."""
    params = {"format": "csv"} | ({"month": month} if month else {})
    response = await usage.send("GET", f"/accounts/{sid}/number-usage-report", params=params)
    if response.is_client_error:
        raise relayed(response)
    name = f"number-usage-{month}.csv" if month else "number-usage.csv"
    return Response(
        response.content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
