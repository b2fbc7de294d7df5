"""Charge leases: the proof invoicing needs before it charges a card (the billing-mode guard).

Invoicing asks for a lease before an auto-recharge charge. The lease is granted under the
account row's lock, only while the account is pay as you go with auto-recharge on, and lives
`seconds`. A switch to invoiced takes the same lock and then waits for every live lease to be
released or to expire (`wait_for_charges`), so a card is charged only while the account is
pay as you go: see docs/money.md for the argument.
"""

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from tally_contracts.accounts import BillingMode
from tally_contracts.decimals import plain_decimal
from tally_runtime.database import Connection
from tally_runtime.http import AccountSidPath, DatabasePool, internal_caller
from tally_runtime.problems import PROBLEM_JSON, Problem, ProblemError

from tally_accounts import repository

router = APIRouter(dependencies=[Depends(internal_caller)])

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {PROBLEM_JSON: {}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that may answer these problem statuses."""
    # Not tally_accounts.web's: the switch to invoiced imports this module, and web imports it.
    return {status_code: _PROBLEM for status_code in statuses}


MAX_LEASE_SECONDS = 120
"""The longest lease: a switch to invoiced waits at most this long for a charge to finish."""

LeaseId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,200}$")]


class LeaseCreate(BaseModel):
    """Ask to charge the account's card: `lease_id` names the charge (its idempotency key)."""

    model_config = ConfigDict(extra="forbid")

    lease_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,200}$")
    seconds: int = Field(ge=1, le=MAX_LEASE_SECONDS)


class LeasePublic(BaseModel):
    """A granted lease: the account's mode and auto-recharge as committed when it was granted."""

    lease_id: str
    account_sid: str
    version: int
    billing_mode: BillingMode
    card_token: str
    amount: Annotated[Decimal, PlainSerializer(plain_decimal, return_type=str)]
    expires_at: datetime


@router.post(
    "/accounts/{sid}/charge-leases",
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409, 422),
)
async def grant_lease(sid: AccountSidPath, body: LeaseCreate, pool: DatabasePool) -> LeasePublic:
    """Grant a card-charge lease while the account is pay as you go with auto-recharge on.

    A `409` (invoiced, trial, or auto-recharge off) means: do not charge. The same `lease_id`
    again is refused too once released, so a lease is used for one charge attempt.
    """
    async with pool.acquire() as conn, conn.transaction():
        account = await repository.lock_account(conn, sid)
        if account is None:
            raise ProblemError(404, "Account not found", f"no account {sid}")
        recharge = account.auto_recharge
        if account.billing_mode is not BillingMode.PAY_AS_YOU_GO:
            raise _refused(sid, f"the account is {account.billing_mode.value}")
        if not recharge.enabled or recharge.card_token is None or recharge.amount is None:
            raise _refused(sid, "auto-recharge is off")
        expires_at = await conn.fetchval(
            """
            INSERT INTO charge_leases (lease_id, account_sid, version, expires_at)
            VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4))
            ON CONFLICT (lease_id) DO NOTHING
            RETURNING expires_at
            """,
            body.lease_id,
            sid,
            account.version,
            float(body.seconds),
        )
        if expires_at is None:
            raise _refused(sid, f"lease {body.lease_id} was granted before")
    return LeasePublic(
        lease_id=body.lease_id,
        account_sid=sid,
        version=account.version,
        billing_mode=account.billing_mode,
        card_token=recharge.card_token,
        amount=recharge.amount,
        expires_at=expires_at,
    )


@router.delete(
    "/accounts/{sid}/charge-leases/{lease_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(422),
)
async def release_lease(sid: AccountSidPath, lease_id: LeaseId, pool: DatabasePool) -> Response:
    """Release a lease once its charge is done (answered or abandoned); a repeat is harmless."""
    await pool.execute(
        "UPDATE charge_leases SET released_at = clock_timestamp()"
        " WHERE lease_id = $1 AND account_sid = $2 AND released_at IS NULL",
        lease_id,
        sid,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _refused(sid: str, why: str) -> ProblemError:
    return ProblemError(409, "No card charge allowed", f"{sid}: {why}; its card is not charged")


POLL_SECONDS = 0.05


async def wait_for_charges(conn: Connection, sid: str) -> None:
    """Wait, holding the account's row lock, until no charge lease of it is live.

    The caller locked the row, so no new lease can be granted meanwhile; a lease ends when
    invoicing releases it or, at the latest, when it expires.
    """
    while True:
        live: Any = await conn.fetchval(
            "SELECT 1 FROM charge_leases WHERE account_sid = $1 AND released_at IS NULL"
            " AND expires_at > clock_timestamp() LIMIT 1",
            sid,
        )
        if live is None:
            return
        await asyncio.sleep(POLL_SECONDS)
