"""Billing preferences and auto-recharge over the internal API."""

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel
from tally_contracts.accounts import (
    Address,
    AutoRecharge,
    AutoRechargeSettings,
    BillingPreferencesPatch,
)
from tally_runtime.http import AccountSidPath, DatabasePool

from tally_accounts import handlers, preferences
from tally_accounts.domain import Account
from tally_accounts.web import Invoicing, RequestClock, as_problems, problems

router = APIRouter()


class BillingPreferencesPublic(BaseModel):
    """Where and to whom the account's invoices go."""

    mailing_address: Address | None
    po_number: str | None
    invoice_recipients: list[str]

    @classmethod
    def of(cls, account: Account) -> "BillingPreferencesPublic":
        """The preferences of a domain account."""
        return cls(
            mailing_address=account.mailing_address,
            po_number=account.po_number,
            invoice_recipients=list(account.invoice_recipients),
        )


class AutoRechargePublic(BaseModel):
    """The account's auto-recharge setting."""

    enabled: bool
    threshold: Decimal | None
    amount: Decimal | None
    card_token: str | None

    @classmethod
    def of(cls, recharge: AutoRecharge) -> "AutoRechargePublic":
        """The public shape of the setting."""
        return cls(**recharge.model_dump())


@router.get("/accounts/{sid}/billing-preferences", responses=problems(401, 404, 422))
async def billing_preferences(sid: AccountSidPath, pool: DatabasePool) -> BillingPreferencesPublic:
    """The mailing address, PO number and invoice recipients."""
    with as_problems():
        return BillingPreferencesPublic.of(await handlers.find_account(sid, pool=pool))


@router.patch("/accounts/{sid}/billing-preferences", responses=problems(401, 404, 422))
async def update_billing_preferences(
    sid: AccountSidPath, body: BillingPreferencesPatch, pool: DatabasePool, clock: RequestClock
) -> BillingPreferencesPublic:
    """Change the fields given (null clears one); any other field is refused."""
    with as_problems():
        account = await preferences.update_billing_preferences(sid, body, pool=pool, clock=clock)
    return BillingPreferencesPublic.of(account)


@router.get("/accounts/{sid}/auto-recharge", responses=problems(401, 404, 409, 422))
async def auto_recharge(sid: AccountSidPath, pool: DatabasePool) -> AutoRechargePublic:
    """The auto-recharge setting; an invoiced account has none (409)."""
    with as_problems():
        return AutoRechargePublic.of(await preferences.auto_recharge_of(sid, pool=pool))


@router.put("/accounts/{sid}/auto-recharge", responses=problems(401, 402, 404, 409, 422, 503))
async def set_auto_recharge(
    sid: AccountSidPath,
    body: AutoRechargeSettings,
    pool: DatabasePool,
    clock: RequestClock,
    invoicing: Invoicing,
) -> AutoRechargePublic:
    """Replace the setting; enabling it authorizes the card first (declined: 402, unchanged)."""
    with as_problems():
        recharge = await preferences.set_auto_recharge(
            sid, body, pool=pool, clock=clock, invoicing=invoicing
        )
    return AutoRechargePublic.of(recharge)
