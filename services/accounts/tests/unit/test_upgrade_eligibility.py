"""Who may upgrade to pay by invoice by themselves: every exclusion alone and combined."""

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from tally_accounts.domain import Account, NewAccount, open_trial_account
from tally_accounts.eligibility import (
    MESSAGES,
    Method,
    Rule,
    available_methods,
    pay_by_invoice_ineligibility,
)
from tally_contracts.accounts import BillingMode

NOW = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
FLAGS = {
    "flex": Rule.FLEX_ACCOUNT,
    "multi_account_invoicing": Rule.MULTI_ACCOUNT_INVOICING,
    "reseller": Rule.RESELLER,
    "nonprofit_org": Rule.NONPROFIT_ORG,
}


def trial(**flags: bool) -> Account:
    request = NewAccount(owner="acme", friendly_name="Acme", time_zone="UTC", **flags)
    return open_trial_account(request, sid="AC" + "a" * 32, now=NOW)


def rules(account: Account, *, owner_approved: bool) -> list[Rule]:
    return [r.rule for r in pay_by_invoice_ineligibility(account, owner_approved=owner_approved)]


def test_given_a_plain_trial_of_an_approved_owner_then_it_is_eligible_for_both_methods() -> None:
    account = trial()
    assert rules(account, owner_approved=True) == []
    assert available_methods(account, []) == [Method.PAY_BY_INVOICE, Method.PAY_AS_YOU_GO]


def test_given_an_owner_without_an_approved_check_then_only_that_rule_fails() -> None:
    account = trial()
    ineligible = pay_by_invoice_ineligibility(account, owner_approved=False)
    assert [r.rule for r in ineligible] == [Rule.NO_APPROVED_CREDIT_CHECK]
    assert available_methods(account, ineligible) == [Method.PAY_AS_YOU_GO]


@pytest.mark.parametrize(
    "flags",
    [
        combination
        for size in range(1, len(FLAGS) + 1)
        for combination in itertools.combinations(FLAGS, size)
    ],
)
@pytest.mark.parametrize("owner_approved", [True, False])
def test_given_any_combination_of_exclusions_then_every_failing_rule_is_listed(
    flags: tuple[str, ...], owner_approved: bool
) -> None:
    account = trial(**dict.fromkeys(flags, True))
    expected = [] if owner_approved else [Rule.NO_APPROVED_CREDIT_CHECK]
    expected += [rule for flag, rule in FLAGS.items() if flag in flags]
    assert rules(account, owner_approved=owner_approved) == expected


@pytest.mark.parametrize("mode", [BillingMode.PAY_AS_YOU_GO, BillingMode.INVOICED])
def test_given_an_upgraded_account_then_not_trial_fails_and_no_method_is_offered(
    mode: BillingMode,
) -> None:
    account = replace(trial(reseller=True), billing_mode=mode)
    ineligible = pay_by_invoice_ineligibility(account, owner_approved=False)
    assert [r.rule for r in ineligible] == [
        Rule.NOT_TRIAL,
        Rule.NO_APPROVED_CREDIT_CHECK,
        Rule.RESELLER,
    ]
    assert available_methods(account, ineligible) == []


def test_given_every_rule_then_each_has_its_own_message() -> None:
    assert set(MESSAGES) == set(Rule)
    assert len(set(MESSAGES.values())) == len(Rule)
    everything = replace(trial(**dict.fromkeys(FLAGS, True)), billing_mode=BillingMode.INVOICED)
    reasons = pay_by_invoice_ineligibility(everything, owner_approved=False)
    assert [(r.rule, r.message) for r in reasons] == [(rule, MESSAGES[rule]) for rule in Rule]
