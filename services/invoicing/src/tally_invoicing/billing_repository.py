"""SQL of the billing page's pricing and of invoice PDFs: row mapping only, no decisions."""

from datetime import datetime

from tally_contracts.accounts import InvoicingTerms
from tally_runtime.database import Connection


class AccountNotKnownError(LookupError):
    """Invoicing has no state of the account yet."""


async def account_terms(conn: Connection, account_sid: str) -> InvoicingTerms | None:
    """The agreed terms in the newest account state invoicing closes months with.

    None for an account without terms; `AccountNotKnownError` before its first state.
    """
    row = await conn.fetchrow(
        "SELECT state -> 'terms' AS terms FROM account_profiles WHERE account_sid = $1",
        account_sid,
    )
    if row is None:
        raise AccountNotKnownError(account_sid)
    if row["terms"] is None or row["terms"] == "null":
        return None
    return InvoicingTerms.model_validate_json(row["terms"])


async def cached_pdf(conn: Connection, invoice_id: str, status: str) -> bytes | None:
    """The PDF rendered earlier of the invoice in this status; None if it never was."""
    pdf: bytes | None = await conn.fetchval(
        "SELECT pdf FROM invoice_pdfs WHERE invoice_id = $1 AND status = $2", invoice_id, status
    )
    return pdf


async def keep_pdf(
    conn: Connection, invoice_id: str, status: str, account_sid: str, pdf: bytes, now: datetime
) -> None:
    """Keep a rendered PDF; one rendered at the same time by another request is kept instead."""
    await conn.execute(
        "INSERT INTO invoice_pdfs (invoice_id, status, account_sid, pdf, rendered_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        invoice_id,
        status,
        account_sid,
        pdf,
        now,
    )
