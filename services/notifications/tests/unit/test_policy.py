"""The notification policy as a table: every kind x billing mode x account status."""

import pytest
from tally_contracts.accounts import AccountStatus, BillingMode
from tally_notifications.policy import (
    PREPAID_ONLY,
    Channel,
    Kind,
    Recipients,
    Send,
    Suppress,
    action,
    table,
)

INVOICED, TRIAL, PAYG = BillingMode.INVOICED, BillingMode.TRIAL, BillingMode.PAY_AS_YOU_GO
ACTIVE, SUSPENDED, CLOSED = AccountStatus.ACTIVE, AccountStatus.SUSPENDED, AccountStatus.CLOSED

# The expected table, written out by hand: (kind) -> modes and statuses it is sent for.
EXPECTED_SENT: dict[Kind, tuple[set[BillingMode], set[AccountStatus]]] = {
    Kind.RECHARGE_REMINDER: ({TRIAL, PAYG}, {ACTIVE}),
    Kind.CARD_CHARGED: ({TRIAL, PAYG}, {ACTIVE, SUSPENDED}),
    Kind.CARD_DECLINED: ({TRIAL, PAYG}, {ACTIVE, SUSPENDED}),
    Kind.SUSPENSION_WARNING: ({TRIAL, PAYG}, {ACTIVE}),
    Kind.ACCOUNT_SUSPENDED: ({TRIAL, PAYG}, {SUSPENDED}),
    Kind.ACCOUNT_REACTIVATED: ({TRIAL, PAYG, INVOICED}, {ACTIVE}),
    Kind.INVOICE_ISSUED: ({TRIAL, PAYG, INVOICED}, {ACTIVE, SUSPENDED}),
    Kind.INVOICE_OVERDUE: ({TRIAL, PAYG, INVOICED}, {ACTIVE, SUSPENDED}),
    Kind.UPGRADE_COMPLETED: ({TRIAL, PAYG, INVOICED}, {ACTIVE, SUSPENDED}),
    Kind.CREDIT_CHECK_INFORMATION_REQUESTED: ({TRIAL, PAYG, INVOICED}, {ACTIVE, SUSPENDED}),
    Kind.CREDIT_EXPOSURE: ({INVOICED}, {ACTIVE, SUSPENDED, CLOSED}),
}

CASES = [(kind, mode, status) for kind in Kind for mode in BillingMode for status in AccountStatus]


@pytest.mark.parametrize(("kind", "mode", "status"), CASES, ids=lambda v: str(v))
def test_given_kind_mode_and_status_then_the_action_is_the_tables(
    kind: Kind, mode: BillingMode, status: AccountStatus
) -> None:
    # given a kind, an account's billing mode and its status; when the policy is asked
    decided = action(kind, mode, status)
    modes, statuses = EXPECTED_SENT[kind]
    # then it sends exactly where the table says, and otherwise names its rule
    if mode in modes and status in statuses:
        assert isinstance(decided, Send)
        assert decided.template == kind.value
    else:
        assert isinstance(decided, Suppress)
        assert decided.reason


@pytest.mark.parametrize("kind", sorted(PREPAID_ONLY))
@pytest.mark.parametrize("status", list(AccountStatus))
def test_given_an_invoiced_account_then_the_five_prepaid_kinds_are_suppressed_by_their_rule(
    kind: Kind, status: AccountStatus
) -> None:
    decided = action(kind, INVOICED, status)
    assert decided == Suppress(
        "prepaid_only",
        f"{kind} is for trial and pay-as-you-go accounts only; the account is invoiced",
    )


def test_given_the_five_prepaid_kinds_then_they_are_the_contracts() -> None:
    assert {kind.value for kind in PREPAID_ONLY} == {
        "recharge_reminder",
        "card_charged",
        "card_declined",
        "suspension_warning",
        "account_suspended",
    }


@pytest.mark.parametrize("mode", list(BillingMode))
@pytest.mark.parametrize("status", list(AccountStatus))
def test_given_credit_exposure_then_it_never_goes_to_the_customer(
    mode: BillingMode, status: AccountStatus
) -> None:
    decided = action(Kind.CREDIT_EXPOSURE, mode, status)
    if isinstance(decided, Send):
        assert decided.recipients is Recipients.OPS
        assert decided.channels == (Channel.EMAIL,)


def test_given_the_table_then_it_covers_every_combination_once() -> None:
    assert len(table()) == len(Kind) * len(BillingMode) * len(AccountStatus)


def test_given_invoices_then_they_go_to_the_invoice_recipients() -> None:
    for kind in (Kind.INVOICE_ISSUED, Kind.INVOICE_OVERDUE):
        sent = action(kind, INVOICED, ACTIVE)
        assert isinstance(sent, Send)
        assert sent.recipients is Recipients.INVOICE_RECIPIENTS
