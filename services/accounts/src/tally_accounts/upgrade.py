"""The self-service upgrade of a trial account: its options, pay by invoice, pay as you go.

Pay by invoice is one transaction (the owner's approved terms, the row locked). Pay as you go
first asks invoicing for the top-up and/or the card's authorization, outside any transaction,
and switches the account only once they succeeded; the top-up's id is derived from the account
and the request, so a retried request never charges twice.
"""

import hashlib
from dataclasses import dataclass

import asyncpg
from tally_contracts.accounts import Address, AutoRecharge, BillingMode, UpgradeRequest
from tally_runtime.clock import Clock

from tally_accounts import address_repository, repository
from tally_accounts.billing_modes import publish_change, publish_upgrade, switch_to_invoiced
from tally_accounts.changes import to_pay_as_you_go
from tally_accounts.domain import Account, AccountNotFound, address_id_of
from tally_accounts.eligibility import (
    MESSAGES,
    Ineligibility,
    Method,
    NotEligible,
    Rule,
    available_methods,
    pay_by_invoice_ineligibility,
)
from tally_accounts.invoicing_client import InvoicingClient
from tally_accounts.invoicing_requests.repository import approved_terms_of_owner


class UnknownAddress(Exception):
    """The `address_id` is not in the owner's address book."""


@dataclass(frozen=True)
class UpgradeOptions:
    """What the upgrade page shows: eligibility, the owner's addresses, the methods."""

    account: Account
    ineligible: list[Ineligibility]
    addresses: list[tuple[str, Address]]
    methods: list[Method]


async def upgrade_options(sid: str, *, pool: asyncpg.Pool) -> UpgradeOptions:
    """Eligibility with every failing rule, and the addresses the owner's other accounts used."""
    async with pool.acquire() as conn:
        account = await repository.fetch_account(conn, sid)
        if account is None:
            raise AccountNotFound(sid)
        terms = await approved_terms_of_owner(conn, account.owner)
        addresses = await address_repository.addresses_used_by_others(conn, account.owner, sid)
    ineligible = pay_by_invoice_ineligibility(account, owner_approved=terms is not None)
    return UpgradeOptions(account, ineligible, addresses, available_methods(account, ineligible))


async def pay_by_invoice(sid: str, address_id: str, *, pool: asyncpg.Pool, clock: Clock) -> Account:
    """Switch a trial account to invoiced on its owner's approved terms, in one transaction.

    An account already invoiced is answered as it is (a repeated completion). NotEligible
    names every failing rule; UnknownAddress an `address_id` not in the owner's book.
    """
    async with pool.acquire() as conn, conn.transaction():
        account = await repository.lock_account(conn, sid)
        if account is None:
            raise AccountNotFound(sid)
        if account.billing_mode == BillingMode.INVOICED:
            return account
        terms = await approved_terms_of_owner(conn, account.owner)
        ineligible = pay_by_invoice_ineligibility(account, owner_approved=terms is not None)
        if ineligible or terms is None:
            raise NotEligible(ineligible)
        address = await address_repository.owner_address(conn, account.owner, address_id)
        if address is None:
            raise UnknownAddress(address_id)
        now = clock()
        await address_repository.use_address(conn, address_id, sid=sid, now=now)
        switched = await switch_to_invoiced(
            conn, sid, terms, now=now, billing_address=(address_id, address)
        )
        await publish_upgrade(conn, switched)
        return switched


def top_up_id_of(sid: str, request: UpgradeRequest) -> str:
    """The top-up's id: the same account and request always name the same top-up."""
    canonical = f"{sid}:upgrade:{request.model_dump_json()}"
    return "TU" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


async def pay_as_you_go(
    sid: str,
    request: UpgradeRequest,
    *,
    pool: asyncpg.Pool,
    clock: Clock,
    invoicing: InvoicingClient,
) -> Account:
    """Top up and/or authorize the auto-recharge card, then switch the trial to pay as you go.

    A declined card (CardDeclined) leaves the account a trial. An account already pay as you
    go is answered as it is; an invoiced one is NotEligible (`not_trial`).
    """
    account = await repository.fetch_account(pool, sid)
    if account is None:
        raise AccountNotFound(sid)
    if account.billing_mode != BillingMode.TRIAL:
        return _already(account)
    address_id, address, entered = await _chosen_address(pool, account, request)
    if request.auto_recharge is not None:
        await invoicing.authorize_card(
            request.auto_recharge.card_token, field="auto_recharge.card_token"
        )
    if request.top_up is not None:
        await invoicing.top_up(
            sid,
            top_up_id=top_up_id_of(sid, request),
            amount=request.top_up.amount,
            card_token=request.top_up.card_token,
            field="top_up.card_token",
        )
    recharge = (
        AutoRecharge(enabled=True, **request.auto_recharge.model_dump())
        if request.auto_recharge
        else AutoRecharge(enabled=False)
    )
    async with pool.acquire() as conn, conn.transaction():
        locked = await repository.lock_account(conn, sid)
        assert locked is not None  # accounts are never deleted
        if locked.billing_mode != BillingMode.TRIAL:
            return _already(locked)  # a concurrent completion won; its state stands
        now = clock()
        if entered:
            await address_repository.add_address(
                conn, locked.owner, address_id, address, sid=sid, now=now
            )
        else:
            await address_repository.use_address(conn, address_id, sid=sid, now=now)
        upgraded = to_pay_as_you_go(
            locked, now=now, auto_recharge=recharge, billing_address=(address_id, address)
        )
        await repository.update_account(conn, upgraded)
        await publish_change(conn, locked, upgraded)
        await publish_upgrade(conn, upgraded)
        return upgraded


def _already(account: Account) -> Account:
    if account.billing_mode == BillingMode.PAY_AS_YOU_GO:
        return account
    raise NotEligible([Ineligibility(Rule.NOT_TRIAL, MESSAGES[Rule.NOT_TRIAL])])


async def _chosen_address(
    pool: asyncpg.Pool, account: Account, request: UpgradeRequest
) -> tuple[str, Address, bool]:
    """The address's id, the address, and whether it was entered manually (joins the book)."""
    if request.address is not None:
        return address_id_of(account.owner, request.address), request.address, True
    assert request.address_id is not None  # the API checked that one of the two is given
    address = await address_repository.owner_address(pool, account.owner, request.address_id)
    if address is None:
        raise UnknownAddress(request.address_id)
    return request.address_id, address, False
