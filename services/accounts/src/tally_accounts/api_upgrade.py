"""The self-service upgrade over the internal API: its options, and completing it."""

from fastapi import APIRouter
from pydantic import BaseModel
from tally_contracts.accounts import UpgradeRequest
from tally_runtime.http import AccountSidPath, DatabasePool

from tally_accounts import upgrade
from tally_accounts.api_models import AccountPublic
from tally_accounts.web import Invoicing, RequestClock, as_problems, field_problem, problems

router = APIRouter()


class IneligibleReason(BaseModel):
    rule: str
    message: str


class UpgradeAddress(BaseModel):
    address_id: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str
    country: str


class UpgradeOptionsPublic(BaseModel):
    """What the upgrade page shows."""

    eligible_for_pay_by_invoice: bool
    ineligible_reasons: list[IneligibleReason]
    addresses: list[UpgradeAddress]
    methods: list[str]


@router.get("/accounts/{sid}/upgrade", responses=problems(401, 404, 422))
async def upgrade_options(sid: AccountSidPath, pool: DatabasePool) -> UpgradeOptionsPublic:
    """Eligibility for pay by invoice (every failing rule), the owner's addresses, the methods."""
    with as_problems():
        options = await upgrade.upgrade_options(sid, pool=pool)
    return UpgradeOptionsPublic(
        eligible_for_pay_by_invoice=not options.ineligible,
        ineligible_reasons=[
            IneligibleReason(rule=r.rule.value, message=r.message) for r in options.ineligible
        ],
        addresses=[
            UpgradeAddress(address_id=address_id, **address.model_dump())
            for address_id, address in options.addresses
        ],
        methods=[method.value for method in options.methods],
    )


def _checked(body: UpgradeRequest) -> None:
    """The rules between fields that a schema cannot say, each naming its field."""
    if body.method == "pay_by_invoice":
        if body.address is not None:
            raise field_problem(
                "address",
                "pay by invoice needs an address_id from `addresses`; a manually"
                " entered address leads to pay as you go",
            )
        if body.address_id is None:
            raise field_problem("address_id", "required for pay_by_invoice")
        for name in ("top_up", "auto_recharge"):
            if getattr(body, name) is not None:
                raise field_problem(name, "only for pay_as_you_go")
        return
    if body.address is not None and body.address_id is not None:
        raise field_problem("address", "give either address_id or address, not both")
    if body.address is None and body.address_id is None:
        raise field_problem("address_id", "give address_id or (entered manually) address")
    if body.top_up is None and body.auto_recharge is None:
        raise field_problem("top_up", "pay as you go needs a top_up, an auto_recharge or both")


@router.post("/accounts/{sid}/upgrade", responses=problems(401, 402, 404, 409, 422, 503))
async def complete_upgrade(
    sid: AccountSidPath,
    body: UpgradeRequest,
    pool: DatabasePool,
    clock: RequestClock,
    invoicing: Invoicing,
) -> AccountPublic:
    """Complete the upgrade; repeating a completed one answers the account unchanged."""
    _checked(body)
    with as_problems():
        if body.method == "pay_by_invoice":
            assert body.address_id is not None
            account = await upgrade.pay_by_invoice(sid, body.address_id, pool=pool, clock=clock)
        else:
            account = await upgrade.pay_as_you_go(
                sid, body, pool=pool, clock=clock, invoicing=invoicing
            )
    return AccountPublic.of(account)
