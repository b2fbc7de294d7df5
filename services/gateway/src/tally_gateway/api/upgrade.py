"""The self-service upgrade of a trial account (CONTRACTS.md §3, Upgrade)."""

from fastapi import APIRouter
from tally_contracts.accounts import UpgradeRequest

from tally_gateway.accounts_client import UpstreamAccount
from tally_gateway.api.openapi import IDEMPOTENT_RETRIES, problems
from tally_gateway.dependencies import AccountsService, OwnAccountSid
from tally_gateway.handlers import public_account
from tally_gateway.idempotency import AccountIdempotency
from tally_gateway.schemas import AccountPublic, UpgradeOptions

router = APIRouter(prefix="/v1", tags=["upgrade"])


@router.get("/Accounts/{sid}/Upgrade", responses=problems(401, 404, 503))
async def upgrade_options(sid: OwnAccountSid, accounts: AccountsService) -> UpgradeOptions:
    """Eligibility for pay by invoice (every failing rule), the owner's addresses, the methods."""
    return await accounts.call(UpgradeOptions, "GET", f"/accounts/{sid}/upgrade")


@router.post(
    "/Accounts/{sid}/Upgrade",
    dependencies=[AccountIdempotency],
    responses=problems(401, 402, 404, 409, 422, 503),
    description="""Complete the upgrade.

- `{"method": "pay_by_invoice", "address_id"}`: the account is `invoiced` at once on its
  owner's approved terms (net terms, rates, discount, credit limit), auto-recharge off. Not
  eligible: `409`, the failing rules in `errors[].reason` and `detail`. A manually entered
  `address` is a `422` naming `address` (enter manually leads to pay as you go).
- `{"method": "pay_as_you_go", "address_id" | "address", "top_up"?, "auto_recharge"?}` (at
  least one of the two): the top-up is charged and/or the auto-recharge card authorized
  first; only then is the account `pay_as_you_go`. A manually entered `address` joins the
  owner's address book. The trial credit left stays on the balance.

**Declined card:** `402` with `errors[].field` naming the card (`top_up.card_token` or
`auto_recharge.card_token`); nothing is charged and the account stays a trial. A token the
payment provider does not know is a `422` naming it.

**Retries** are safe: a repeat of a completed upgrade answers `200` with the account
unchanged, and a retried pay-as-you-go request tops up once (its top-up id is derived from
the account and the request). Two concurrent completions end in one upgrade."""
    + IDEMPOTENT_RETRIES,
)
async def complete_upgrade(
    sid: OwnAccountSid, body: UpgradeRequest, accounts: AccountsService
) -> AccountPublic:
    """Complete the upgrade: pay by invoice, or pay as you go."""
    account = await accounts.call(
        UpstreamAccount,
        "POST",
        f"/accounts/{sid}/upgrade",
        body.model_dump(mode="json", exclude_unset=True),
    )
    return public_account(account)
