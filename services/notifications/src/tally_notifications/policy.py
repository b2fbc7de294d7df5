"""The notification policy as data: kind x billing mode x account status -> send or suppress.

Pure: no I/O. Every decision about a notification goes through `action`, so the table below
is the whole policy, and `table()` lists it for the dry run and the tests.
"""

from dataclasses import dataclass
from enum import StrEnum

from tally_contracts.accounts import AccountStatus, BillingMode


class Kind(StrEnum):
    """What a notification is about (CONTRACTS.md §3, Notifications)."""

    RECHARGE_REMINDER = "recharge_reminder"
    CARD_CHARGED = "card_charged"
    CARD_DECLINED = "card_declined"
    SUSPENSION_WARNING = "suspension_warning"
    ACCOUNT_SUSPENDED = "account_suspended"
    ACCOUNT_REACTIVATED = "account_reactivated"
    INVOICE_ISSUED = "invoice_issued"
    INVOICE_OVERDUE = "invoice_overdue"
    UPGRADE_COMPLETED = "upgrade_completed"
    CREDIT_CHECK_INFORMATION_REQUESTED = "credit_check_information_requested"
    CREDIT_EXPOSURE = "credit_exposure"


PREPAID_ONLY: frozenset[Kind] = frozenset(
    {
        Kind.RECHARGE_REMINDER,
        Kind.CARD_CHARGED,
        Kind.CARD_DECLINED,
        Kind.SUSPENSION_WARNING,
        Kind.ACCOUNT_SUSPENDED,
    }
)
"""The five kinds only trial and pay-as-you-go accounts may receive, never an invoiced one."""


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Recipients(StrEnum):
    """Who a notification goes to."""

    ACCOUNT = "account"
    """The account's `contact_email` and its `webhook_url`."""
    INVOICE_RECIPIENTS = "invoice_recipients"
    """The invoice's recipients (else the account's), and its `webhook_url`."""
    OPS = "ops"
    """Tally's ops contacts (a configured list of addresses), never the customer."""


@dataclass(frozen=True)
class Send:
    """Send on `channels` to `recipients`, rendered with `template`."""

    channels: tuple[Channel, ...]
    recipients: Recipients
    template: str


@dataclass(frozen=True)
class Suppress:
    """Hold the notification back; `rule` names the policy rule, `reason` says it in words."""

    rule: str
    reason: str


Action = Send | Suppress

_PREPAID = frozenset({BillingMode.TRIAL, BillingMode.PAY_AS_YOU_GO})
_EVERY_MODE = frozenset(BillingMode)
_OPEN = frozenset({AccountStatus.ACTIVE, AccountStatus.SUSPENDED})
_ACTIVE = frozenset({AccountStatus.ACTIVE})
_BOTH = (Channel.EMAIL, Channel.WEBHOOK)


@dataclass(frozen=True)
class Rule:
    """One kind's row of the policy: the modes and statuses it is sent for, and how."""

    modes: frozenset[BillingMode]
    statuses: frozenset[AccountStatus]
    send: Send


POLICY: dict[Kind, Rule] = {
    Kind.RECHARGE_REMINDER: Rule(
        _PREPAID, _ACTIVE, Send(_BOTH, Recipients.ACCOUNT, "recharge_reminder")
    ),
    Kind.CARD_CHARGED: Rule(_PREPAID, _OPEN, Send(_BOTH, Recipients.ACCOUNT, "card_charged")),
    Kind.CARD_DECLINED: Rule(_PREPAID, _OPEN, Send(_BOTH, Recipients.ACCOUNT, "card_declined")),
    Kind.SUSPENSION_WARNING: Rule(
        _PREPAID, _ACTIVE, Send(_BOTH, Recipients.ACCOUNT, "suspension_warning")
    ),
    Kind.ACCOUNT_SUSPENDED: Rule(
        _PREPAID,
        frozenset({AccountStatus.SUSPENDED}),
        Send(_BOTH, Recipients.ACCOUNT, "account_suspended"),
    ),
    Kind.ACCOUNT_REACTIVATED: Rule(
        _EVERY_MODE, _ACTIVE, Send(_BOTH, Recipients.ACCOUNT, "account_reactivated")
    ),
    Kind.INVOICE_ISSUED: Rule(
        _EVERY_MODE, _OPEN, Send(_BOTH, Recipients.INVOICE_RECIPIENTS, "invoice_issued")
    ),
    Kind.INVOICE_OVERDUE: Rule(
        _EVERY_MODE, _OPEN, Send(_BOTH, Recipients.INVOICE_RECIPIENTS, "invoice_overdue")
    ),
    Kind.UPGRADE_COMPLETED: Rule(
        _EVERY_MODE, _OPEN, Send(_BOTH, Recipients.ACCOUNT, "upgrade_completed")
    ),
    Kind.CREDIT_CHECK_INFORMATION_REQUESTED: Rule(
        _EVERY_MODE,
        _OPEN,
        Send((Channel.EMAIL,), Recipients.ACCOUNT, "credit_check_information_requested"),
    ),
    Kind.CREDIT_EXPOSURE: Rule(
        frozenset({BillingMode.INVOICED}),
        frozenset(AccountStatus),
        Send((Channel.EMAIL,), Recipients.OPS, "credit_exposure"),
    ),
}
"""Every kind's rule. A kind is sent when the account's mode and status are both listed."""


def action(kind: Kind, mode: BillingMode, status: AccountStatus) -> Action:
    """What the policy does about `kind` for an account in `mode` with `status`."""
    rule = POLICY[kind]
    if mode not in rule.modes:
        if kind in PREPAID_ONLY:
            return Suppress(
                "prepaid_only",
                f"{kind} is for trial and pay-as-you-go accounts only; the account is {mode}",
            )
        return Suppress("mode", f"{kind} is not sent to {mode} accounts")
    if status not in rule.statuses:
        return Suppress("status", f"{kind} is not sent while the account is {status}")
    return rule.send


def table() -> dict[tuple[Kind, BillingMode, AccountStatus], Action]:
    """The whole policy, every kind x mode x status, as the dry run and the tests read it."""
    return {
        (kind, mode, status): action(kind, mode, status)
        for kind in Kind
        for mode in BillingMode
        for status in AccountStatus
    }
