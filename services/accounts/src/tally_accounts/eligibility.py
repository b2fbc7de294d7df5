"""Who may upgrade to pay by invoice by themselves: pure rules, every failing one named."""

from dataclasses import dataclass
from enum import StrEnum

from tally_contracts.accounts import BillingMode

from tally_accounts.domain import Account


class Rule(StrEnum):
    """A reason a trial account may not switch to pay by invoice by itself."""

    NOT_TRIAL = "not_trial"
    NO_APPROVED_CREDIT_CHECK = "no_approved_credit_check"
    FLEX_ACCOUNT = "flex_account"
    MULTI_ACCOUNT_INVOICING = "multi_account_invoicing"
    RESELLER = "reseller"
    NONPROFIT_ORG = "nonprofit_org"


MESSAGES: dict[Rule, str] = {
    Rule.NOT_TRIAL: "only a trial account can be upgraded; this one is already upgraded",
    Rule.NO_APPROVED_CREDIT_CHECK: (
        "the owner has no invoicing request with an approved credit check; ask for invoiced"
        " billing through sales (a committed annual spend of at least 12,000.00 USD)"
    ),
    Rule.FLEX_ACCOUNT: "Flex trial accounts cannot switch to pay by invoice by themselves",
    Rule.MULTI_ACCOUNT_INVOICING: (
        "multi-account invoicing accounts cannot switch to pay by invoice by themselves"
    ),
    Rule.RESELLER: "reseller and resold accounts cannot switch to pay by invoice by themselves",
    Rule.NONPROFIT_ORG: (
        "accounts of the .org non-profit programme cannot switch to pay by invoice by themselves"
    ),
}


@dataclass(frozen=True)
class Ineligibility:
    """One failing rule and what it means for the customer."""

    rule: Rule
    message: str


class Method(StrEnum):
    """How a trial account may pay once upgraded."""

    PAY_BY_INVOICE = "pay_by_invoice"
    PAY_AS_YOU_GO = "pay_as_you_go"


def pay_by_invoice_ineligibility(account: Account, *, owner_approved: bool) -> list[Ineligibility]:
    """Every rule that keeps `account` from pay by invoice, in a fixed order; empty if none."""
    failing = [
        (Rule.NOT_TRIAL, account.billing_mode != BillingMode.TRIAL),
        (Rule.NO_APPROVED_CREDIT_CHECK, not owner_approved),
        (Rule.FLEX_ACCOUNT, account.flex),
        (Rule.MULTI_ACCOUNT_INVOICING, account.multi_account_invoicing),
        (Rule.RESELLER, account.reseller),
        (Rule.NONPROFIT_ORG, account.nonprofit_org),
    ]
    return [Ineligibility(rule, MESSAGES[rule]) for rule, fails in failing if fails]


def available_methods(account: Account, ineligible: list[Ineligibility]) -> list[Method]:
    """The methods the account may complete now: none once upgraded."""
    if account.billing_mode != BillingMode.TRIAL:
        return []
    if ineligible:
        return [Method.PAY_AS_YOU_GO]
    return [Method.PAY_BY_INVOICE, Method.PAY_AS_YOU_GO]


class NotEligible(Exception):
    """Pay by invoice asked for by an account some rules exclude."""

    def __init__(self, reasons: list[Ineligibility]) -> None:
        super().__init__("not eligible for pay by invoice: " + ", ".join(r.rule for r in reasons))
        self.reasons = reasons
