"""The billing-mode guard's client: a charge lease from accounts before any card charge.

Accounts grants a lease under the account row's lock only while the account is pay as you go
with auto-recharge on; a switch to invoiced waits for live leases (docs/money.md).
"""

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import httpx
from tally_runtime.http import SERVICE_TOKEN_HEADER

from tally_invoicing.config import InvoicingSettings


@dataclass(frozen=True)
class Lease:
    """Permission to charge the card until `deadline` (this process's monotonic clock)."""

    lease_id: str
    account_sid: str
    version: int
    card_token: str
    amount: Decimal
    deadline: float

    def remaining(self) -> float:
        """Seconds left to finish the charge under this lease."""
        return self.deadline - time.monotonic()


class ChargeRefused(Exception):
    """Accounts refused the lease: the account is not pay as you go with auto-recharge on."""


class GuardUnavailable(Exception):
    """Accounts did not answer: the charge waits (never guess the mode)."""


class ChargeGuard(Protocol):
    """Grants and releases card-charge leases."""

    async def lease(self, account_sid: str, lease_id: str) -> Lease:
        """A lease, or `ChargeRefused` / `GuardUnavailable`."""
        ...

    async def release(self, account_sid: str, lease_id: str) -> None:
        """Release the lease (best effort: it expires anyway)."""
        ...


MARGIN_SECONDS = 2.0
"""Kept off the lease's life: the charge must be over before accounts may think it expired."""


class AccountsChargeGuard:
    """The guard over accounts' internal HTTP API."""

    def __init__(
        self, settings: InvoicingSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._seconds = settings.charge_lease_seconds
        self._base_url = settings.accounts_url
        self._timeout = settings.accounts_timeout_seconds
        self._headers = {SERVICE_TOKEN_HEADER: settings.service_token.get_secret_value()}
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._base_url,
            timeout=self._timeout,
            headers=self._headers,
            transport=self._transport,
        )

    async def lease(self, account_sid: str, lease_id: str) -> Lease:
        """Ask accounts for a lease; its deadline counts from before the request was sent."""
        asked_at = time.monotonic()  # the lease's life starts after this instant, at accounts
        try:
            async with self._client() as client:
                response = await client.post(
                    f"/accounts/{account_sid}/charge-leases",
                    json={"lease_id": lease_id, "seconds": self._seconds},
                )
        except httpx.HTTPError as error:
            raise GuardUnavailable(f"{type(error).__name__}: {error}") from error
        if response.status_code in (404, 409):
            raise ChargeRefused(response.json().get("detail", "refused"))
        if response.status_code != 201:
            raise GuardUnavailable(f"accounts answered {response.status_code}")
        body = response.json()
        return Lease(
            lease_id=lease_id,
            account_sid=account_sid,
            version=body["version"],
            card_token=body["card_token"],
            amount=Decimal(body["amount"]),
            deadline=asked_at + self._seconds - MARGIN_SECONDS,
        )

    async def release(self, account_sid: str, lease_id: str) -> None:
        """Release the lease; a failure is harmless, the lease expires."""
        try:
            async with self._client() as client:
                await client.delete(f"/accounts/{account_sid}/charge-leases/{lease_id}")
        except httpx.HTTPError:
            return
