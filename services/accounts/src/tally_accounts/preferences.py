"""Billing preferences and auto-recharge: what a customer sets about how it is billed."""

import asyncpg
from tally_contracts.accounts import AutoRecharge, AutoRechargeSettings, BillingPreferencesPatch
from tally_runtime.clock import Clock

from tally_accounts.changes import is_prepaid
from tally_accounts.domain import Account
from tally_accounts.handlers import change_account, find_account
from tally_accounts.invoicing_client import InvoicingClient


class AutoRechargeUnavailable(Exception):
    """An invoiced account has no balance to recharge: auto-recharge is off and stays off."""


class IncompleteAutoRecharge(Exception):
    """Auto-recharge enabled without a threshold, an amount or a card token."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("enabled auto-recharge needs " + ", ".join(missing))
        self.missing = missing


async def update_billing_preferences(
    sid: str, patch: BillingPreferencesPatch, *, pool: asyncpg.Pool, clock: Clock
) -> Account:
    """Change the mailing address, PO number or invoice recipients given; null clears."""
    asked = patch.model_dump(exclude_unset=True)
    if "mailing_address" in asked:
        asked["mailing_address"] = patch.mailing_address
    if "invoice_recipients" in asked:
        asked["invoice_recipients"] = tuple(asked["invoice_recipients"])

    def preferences(account: Account) -> dict[str, object] | None:
        return {k: v for k, v in asked.items() if getattr(account, k) != v} or None

    return await change_account(sid, preferences, pool=pool, clock=clock)


async def auto_recharge_of(sid: str, *, pool: asyncpg.Pool) -> AutoRecharge:
    """The account's auto-recharge; AutoRechargeUnavailable for an invoiced account."""
    account = await find_account(sid, pool=pool)
    if not is_prepaid(account):
        raise AutoRechargeUnavailable(sid)
    return account.auto_recharge


async def set_auto_recharge(
    sid: str,
    settings: AutoRechargeSettings,
    *,
    pool: asyncpg.Pool,
    clock: Clock,
    invoicing: InvoicingClient,
) -> AutoRecharge:
    """Replace the auto-recharge setting; an enabled one's card is authorized first.

    A declined card (CardDeclined) changes nothing; an invoiced account is refused before
    the card is asked about, and again under the row lock (it may have switched meanwhile).
    """
    wanted = AutoRecharge(**settings.model_dump())
    if wanted.enabled:
        fields = ("threshold", "amount", "card_token")
        if missing := [name for name in fields if getattr(wanted, name) is None]:
            raise IncompleteAutoRecharge(missing)
    await auto_recharge_of(sid, pool=pool)
    if wanted.enabled and wanted.card_token is not None:
        await invoicing.authorize_card(wanted.card_token, field="card_token")

    def recharge(account: Account) -> dict[str, object] | None:
        if not is_prepaid(account):
            raise AutoRechargeUnavailable(sid)
        return {"auto_recharge": wanted} if account.auto_recharge != wanted else None

    return (await change_account(sid, recharge, pool=pool, clock=clock)).auto_recharge
