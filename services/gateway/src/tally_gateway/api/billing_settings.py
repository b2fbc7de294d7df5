"""Billing preferences and auto-recharge (CONTRACTS.md §3, Money)."""

from fastapi import APIRouter
from tally_contracts.accounts import AutoRechargeSettings, BillingPreferencesPatch

from tally_gateway.api.openapi import problems
from tally_gateway.dependencies import AccountsService, OwnAccountSid
from tally_gateway.schemas import AutoRechargePublic, BillingPreferences

router = APIRouter(prefix="/v1", tags=["billing settings"])


@router.get("/Accounts/{sid}/BillingPreferences", responses=problems(401, 404, 503))
async def billing_preferences(sid: OwnAccountSid, accounts: AccountsService) -> BillingPreferences:
    """The mailing address, PO number and invoice e-mail recipients."""
    return await accounts.call(BillingPreferences, "GET", f"/accounts/{sid}/billing-preferences")


@router.patch(
    "/Accounts/{sid}/BillingPreferences",
    responses=problems(401, 404, 422, 503),
    description="""Change the fields given; a left-out field stays, `null` clears
`mailing_address` or `po_number`, and `invoice_recipients` (at most 20 e-mail addresses)
replaces the list. Any other field is a `422` naming it.""",
)
async def update_billing_preferences(
    sid: OwnAccountSid, body: BillingPreferencesPatch, accounts: AccountsService
) -> BillingPreferences:
    """Change the billing preferences."""
    return await accounts.call(
        BillingPreferences,
        "PATCH",
        f"/accounts/{sid}/billing-preferences",
        body.model_dump(mode="json", exclude_unset=True),
    )


@router.get("/Accounts/{sid}/AutoRecharge", responses=problems(401, 404, 409, 503))
async def auto_recharge(sid: OwnAccountSid, accounts: AccountsService) -> AutoRechargePublic:
    """The auto-recharge setting; an invoiced account has none (`409`)."""
    return await accounts.call(AutoRechargePublic, "GET", f"/accounts/{sid}/auto-recharge")


@router.put(
    "/Accounts/{sid}/AutoRecharge",
    responses=problems(401, 402, 404, 409, 422, 503),
    description="""Replace the setting. `enabled: true` needs `threshold`, `amount` and
`card_token`; the card is authorized first, and a declined one is a `402` that changes
nothing. An invoiced account is a `409`: auto-recharge is off and stays off.""",
)
async def set_auto_recharge(
    sid: OwnAccountSid, body: AutoRechargeSettings, accounts: AccountsService
) -> AutoRechargePublic:
    """Set auto-recharge."""
    return await accounts.call(
        AutoRechargePublic,
        "PUT",
        f"/accounts/{sid}/auto-recharge",
        body.model_dump(mode="json", exclude_unset=True),
    )
