"""`OpsClient`: the gateway's ops endpoints (CONTRACTS.md §3, Ops), with the ops key."""

from datetime import datetime
from typing import Any

import httpx

from tally_sdk.retry import NO_RETRIES, RetryPolicy
from tally_sdk.transport import Gateway, GatewayClient

BILLING_RUN_SECONDS = 660.0
"""A billing run may take minutes (the gateway waits up to 600 s for it)."""


class OpsClient(GatewayClient):
    """Runs snapshots and billing runs, lists and replays parked records.

    Runs are not retried by default: each is idempotent, but a run that timed out may still be
    going, and an operator should see that rather than start another behind it.
    """

    def __init__(
        self,
        base_url: str,
        ops_key: str,
        *,
        retry: RetryPolicy = NO_RETRIES,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._gateway = Gateway(
            base_url,
            headers={"Authorization": f"Bearer {ops_key}"},
            retry=retry,
            timeout=timeout,
            transport=transport,
        )

    async def usage_snapshots(self, as_of: datetime) -> dict[str, Any]:
        """Every account's usage snapshot due at `as_of` (an aware instant): `{snapshots}`."""
        if as_of.tzinfo is None:
            raise ValueError("as_of needs its offset (an instant)")
        body = {"as_of": as_of.isoformat()}
        return await self._post("/v1/Ops/UsageSnapshots", body)

    async def billing_run(self, month: str) -> dict[str, Any]:
        """Close `month` (`YYYY-MM`) into invoices for every account whose local month ended."""
        return await self._post("/v1/Ops/BillingRuns", {"month": month}, BILLING_RUN_SECONDS)

    async def parked_records(self, service: str, *, limit: int = 100) -> dict[str, Any]:
        """A service's parked records, oldest first: `{service, waiting, records}`."""
        response = await self._gateway.call(
            "GET", f"/v1/Ops/ParkedRecords/{service}", params={"limit": str(limit)}
        )
        records: dict[str, Any] = response.json()
        return records

    async def replay_parked(self, service: str, parked_id: int) -> dict[str, Any]:
        """Publish a parked record to its topic again (after fixing what made it fail)."""
        return await self._post(f"/v1/Ops/ParkedRecords/{service}/{parked_id}/Replay", {})

    async def _post(
        self, path: str, body: object, wait_seconds: float | None = None
    ) -> dict[str, Any]:
        response = await self._gateway.call("POST", path, json_body=body, wait_seconds=wait_seconds)
        answer: dict[str, Any] = response.json()
        return answer
