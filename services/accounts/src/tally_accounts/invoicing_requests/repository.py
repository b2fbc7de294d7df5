"""SQL for invoicing requests, their sealed credit checks and the reads of them; no decisions."""

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from tally_contracts.invoicing_requests import RequestState
from tally_runtime.database import Connection

from tally_accounts.invoicing_requests.domain import (
    Decision,
    HistoryEntry,
    InformationRequest,
    InvoicingRequest,
    Pricing,
    Step,
    agreed_terms,
)
from tally_accounts.terms import AgreedTerms

_COLUMNS = (
    "request_id, account_sid, contact_email, committed_annual_spend, state, rates,"
    " discount_percent, net_terms_days, approved, credit_limit, decline_reason, decided_by,"
    " decided_at, history, information_requests, created_at, updated_at"
)


async def insert_request(
    conn: Connection,
    request: InvoicingRequest,
    *,
    idempotency_key: str | None,
    created_with: bytes,
) -> bool:
    """Store a new request unless its Idempotency-Key was used; whether it was stored.

    Raises asyncpg.UniqueViolationError when the account already has an open request.
    """
    inserted: bool | None = await conn.fetchval(
        "INSERT INTO invoicing_requests (request_id, account_sid, contact_email,"
        " committed_annual_spend, state, history, idempotency_key, created_with, created_at,"
        " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING true",
        request.request_id,
        request.account_sid,
        request.contact_email,
        request.committed_annual_spend,
        request.state.value,
        _history_json(request.history),
        idempotency_key,
        created_with,
        request.created_at,
    )
    return bool(inserted)


async def fetch_by_idempotency_key(
    conn: Connection, key: str
) -> tuple[InvoicingRequest, bytes] | None:
    """The request created with this Idempotency-Key and the hash of the body that did."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, created_with FROM invoicing_requests"  # noqa: S608 - constant
        " WHERE idempotency_key = $1",
        key,
    )
    return (_request_from(row), row["created_with"]) if row else None


async def open_request_of(conn: Connection, account_sid: str) -> str | None:
    """The id of the account's open request, if it has one."""
    found: str | None = await conn.fetchval(
        "SELECT request_id FROM invoicing_requests WHERE account_sid = $1"
        " AND state IN ('pricing', 'credit_check', 'approved')",
        account_sid,
    )
    return found


async def account_exists(conn: Connection, sid: str) -> bool:
    """Whether an account has this SID."""
    return bool(await conn.fetchval("SELECT true FROM accounts WHERE sid = $1", sid))


async def fetch_request(
    conn: Connection | asyncpg.Pool, request_id: str, *, lock: bool = False
) -> InvoicingRequest | None:
    """The request with this id, or None; `lock` holds its row until the transaction ends."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM invoicing_requests WHERE request_id = $1"  # noqa: S608
        + (" FOR UPDATE" if lock else ""),
        request_id,
    )
    return _request_from(row) if row else None


async def list_requests(
    conn: Connection | asyncpg.Pool, state: RequestState | None
) -> list[InvoicingRequest]:
    """Every request, or those in `state`, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM invoicing_requests"  # noqa: S608 - a constant column list
        " WHERE $1::text IS NULL OR state = $1 ORDER BY created_at, request_id",
        state.value if state else None,
    )
    return [_request_from(row) for row in rows]


async def update_request(conn: Connection, request: InvoicingRequest) -> None:
    """Write the request's new state, terms, decision and history."""
    pricing, decision = request.pricing, request.decision
    await conn.execute(
        "UPDATE invoicing_requests SET state = $2, rates = $3, discount_percent = $4,"
        " net_terms_days = $5, approved = $6, credit_limit = $7, decline_reason = $8,"
        " decided_by = $9, decided_at = $10, history = $11, information_requests = $12,"
        " updated_at = $13 WHERE request_id = $1",
        request.request_id,
        request.state.value,
        json.dumps({k: str(v) for k, v in pricing.rates.items()}) if pricing else None,
        pricing.discount_percent if pricing else None,
        pricing.net_terms_days if pricing else None,
        decision.approved if decision else None,
        decision.credit_limit if decision else None,
        decision.reason if decision else None,
        decision.by if decision else None,
        decision.at if decision else None,
        _history_json(request.history),
        json.dumps(
            [
                {"items": list(asked.items), "by": asked.by, "at": asked.at.isoformat()}
                for asked in request.information_requests
            ]
        ),
        request.updated_at,
    )


async def approved_terms_of_owner(conn: Connection, owner: str) -> AgreedTerms | None:
    """The terms of the owner's latest approved or activated request (by decision), or None."""
    row = await conn.fetchrow(
        f"SELECT {', '.join('r.' + c.strip() for c in _COLUMNS.split(','))}"  # noqa: S608
        " FROM invoicing_requests r JOIN accounts a ON a.sid = r.account_sid"
        " WHERE a.owner = $1 AND r.state IN ('approved', 'activated')"
        " ORDER BY r.decided_at DESC, r.request_id DESC LIMIT 1",
        owner,
    )
    return agreed_terms(_request_from(row)) if row else None


async def fetch_sealed_credit_check(conn: Connection, request_id: str) -> bytes | None:
    """The request's sealed credit-check data, if any was recorded."""
    sealed: bytes | None = await conn.fetchval(
        "SELECT sealed FROM credit_checks WHERE request_id = $1", request_id
    )
    return sealed


async def store_sealed_credit_check(
    conn: Connection, request_id: str, sealed: bytes, *, now: datetime
) -> None:
    """Keep the request's credit-check data, sealed, in place of what it held."""
    await conn.execute(
        "INSERT INTO credit_checks (request_id, sealed, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (request_id) DO UPDATE SET sealed = $2, updated_at = $3",
        request_id,
        sealed,
        now,
    )


async def record_credit_check_read(
    conn: Connection, request_id: str, *, caller: str, read_by: str | None, now: datetime
) -> None:
    """Add a read of the request's credit-check data to the audit trail."""
    await conn.execute(
        "INSERT INTO credit_check_reads (request_id, caller, read_by, read_at)"
        " VALUES ($1, $2, $3, $4)",
        request_id,
        caller,
        read_by,
        now,
    )


def _history_json(history: tuple[HistoryEntry, ...]) -> str:
    return json.dumps(
        [
            {"step": entry.step.value, "by": entry.by, "at": entry.at.isoformat()}
            for entry in history
        ]
    )


def _json(value: Any) -> Any:
    # asyncpg hands jsonb over as text unless a codec is set; the pool sets none.
    return json.loads(value) if isinstance(value, str) else value


def _request_from(row: asyncpg.Record) -> InvoicingRequest:
    rates = _json(row["rates"])
    pricing = (
        Pricing(
            rates={category: Decimal(price) for category, price in rates.items()},
            discount_percent=row["discount_percent"],
            net_terms_days=row["net_terms_days"],
        )
        if rates is not None
        else None
    )
    decision = (
        Decision(
            approved=row["approved"],
            credit_limit=row["credit_limit"],
            reason=row["decline_reason"],
            by=row["decided_by"],
            at=row["decided_at"],
        )
        if row["approved"] is not None
        else None
    )
    return InvoicingRequest(
        request_id=row["request_id"],
        account_sid=row["account_sid"],
        contact_email=row["contact_email"],
        committed_annual_spend=row["committed_annual_spend"],
        state=RequestState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        history=tuple(
            HistoryEntry(Step(entry["step"]), entry["by"], datetime.fromisoformat(entry["at"]))
            for entry in _json(row["history"])
        ),
        pricing=pricing,
        decision=decision,
        information_requests=tuple(
            InformationRequest(
                tuple(asked["items"]), asked["by"], datetime.fromisoformat(asked["at"])
            )
            for asked in _json(row["information_requests"])
        ),
    )
