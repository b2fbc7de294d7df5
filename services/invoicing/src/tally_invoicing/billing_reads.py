"""The billing page's pricing and invoices for people: the use cases behind `billing_api`."""

from collections.abc import Mapping
from decimal import Decimal

import asyncpg
from tally_contracts.usage import UsageCategory
from tally_runtime.clock import Clock

from tally_invoicing import billing_repository
from tally_invoicing.current_charges import CurrentCharges, current_charges
from tally_invoicing.invoice_document import InvoiceDocument
from tally_invoicing.invoice_pdf import render_invoice_pdf

AccountNotKnownError = billing_repository.AccountNotKnownError


async def quote_charges(
    account_sid: str, quantities: Mapping[UsageCategory, Decimal], *, pool: asyncpg.Pool
) -> CurrentCharges:
    """Price a month's quantities on the account's card, as its invoice would; stores nothing."""
    async with pool.acquire() as conn:
        terms = await billing_repository.account_terms(conn, account_sid)
    return current_charges(quantities, terms)


async def invoice_pdf(document: InvoiceDocument, *, pool: asyncpg.Pool, clock: Clock) -> bytes:
    """The invoice's PDF: rendered on first request in each status, then read back."""
    async with pool.acquire() as conn:
        cached = await billing_repository.cached_pdf(conn, document.invoice_id, document.status)
    if cached is not None:
        return cached
    pdf = render_invoice_pdf(document)
    async with pool.acquire() as conn:
        await billing_repository.keep_pdf(
            conn, document.invoice_id, document.status, document.account_sid, pdf, clock()
        )
    return pdf
