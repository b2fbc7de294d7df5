"""How each change moves an account to its next version: pure, no I/O, the clock passed in."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from tally_contracts.accounts import (
    AccountStatus,
    Address,
    AutoRecharge,
    BillingMode,
    InvoicingTerms,
)
from tally_contracts.periods import EARLIEST, ZoneSpan, zone_change

from tally_accounts.domain import Account
from tally_accounts.terms import AgreedTerms


def next_version(account: Account, now: datetime, **changes: object) -> Account:
    """`account` with `changes`, one version later, changed at `now`."""
    return replace(account, **changes, version=account.version + 1, updated_at=now)  # type: ignore[arg-type]


def invoicing_terms(terms: AgreedTerms) -> InvoicingTerms:
    """The terms an approved request agreed, as an account carries them."""
    return InvoicingTerms(
        request_id=terms.request_id,
        rates=dict(terms.rates),
        discount_percent=terms.discount_percent,
        net_terms_days=terms.net_terms_days,
        credit_limit=terms.credit_limit,
    )


def to_invoiced(
    account: Account,
    terms: AgreedTerms,
    *,
    now: datetime,
    billing_address: tuple[str, Address] | None = None,
) -> Account:
    """The account billed by invoice on `terms`: auto-recharge off, never suspended for balance.

    A switch while suspended for its balance ends that suspension, since an invoiced account
    draws nothing from a balance.
    """
    unsuspended = account.suspended_for_balance and account.status == AccountStatus.SUSPENDED
    return next_version(
        account,
        now,
        billing_mode=BillingMode.INVOICED,
        terms=invoicing_terms(terms),
        auto_recharge=AutoRecharge(enabled=False),
        billing_address_id=billing_address[0] if billing_address else account.billing_address_id,
        billing_address=billing_address[1] if billing_address else account.billing_address,
        status=AccountStatus.ACTIVE if unsuspended else account.status,
        suspended_for_balance=False,
        balance_depleted_since=None,
    )


def to_pay_as_you_go(
    account: Account,
    *,
    now: datetime,
    auto_recharge: AutoRecharge,
    billing_address: tuple[str, Address],
) -> Account:
    """The trial account upgraded to pay as you go, with its auto-recharge settings."""
    return next_version(
        account,
        now,
        billing_mode=BillingMode.PAY_AS_YOU_GO,
        auto_recharge=auto_recharge,
        billing_address_id=billing_address[0],
        billing_address=billing_address[1],
    )


def zone_history(account: Account) -> list[ZoneSpan]:
    """The account's zones, oldest first (never empty)."""
    if account.time_zones:
        return list(account.time_zones)
    return [ZoneSpan(time_zone=account.time_zone, effective_from=EARLIEST)]


def with_time_zone(account: Account, new_zone: str, now: datetime) -> dict[str, object]:
    """The changes a new zone asks for: it applies from the next billing month.

    Spans that had not begun yet are replaced, so changing one's mind twice in a month keeps
    one pending change; asking for the zone already in effect cancels a pending change.
    """
    history = [span for span in zone_history(account) if span.effective_from <= now]
    if history[-1].time_zone == new_zone:
        return {"time_zone": new_zone, "time_zones": tuple(history)}
    span = zone_change(history, new_zone, now)
    return {"time_zone": new_zone, "time_zones": (*history, span)}


def is_prepaid(account: Account) -> bool:
    """Trial and pay-as-you-go accounts draw on a balance; invoiced ones never do."""
    return account.billing_mode in (BillingMode.TRIAL, BillingMode.PAY_AS_YOU_GO)


@dataclass(frozen=True)
class BalanceOutcome:
    """What one balance fact means for an account's suspension timer."""

    depleted_since: datetime | None
    reactivate: bool


def balance_outcome(account: Account, balance: Decimal, *, at: datetime) -> BalanceOutcome:
    """At or below zero a prepaid account's grace period starts (kept from its first such fact).

    Above zero the period ends, and an account suspended for its balance is reactivated.
    An invoiced account never starts one.
    """
    if balance > 0:
        return BalanceOutcome(depleted_since=None, reactivate=account.suspended_for_balance)
    if not is_prepaid(account):
        return BalanceOutcome(depleted_since=None, reactivate=False)
    return BalanceOutcome(depleted_since=account.balance_depleted_since or at, reactivate=False)


def reactivated(account: Account, *, now: datetime) -> Account:
    """The account active again after a suspension for its balance."""
    return next_version(
        account,
        now,
        status=AccountStatus.ACTIVE,
        suspended_for_balance=False,
        balance_depleted_since=None,
    )


def suspended(account: Account, *, now: datetime) -> Account:
    """The account suspended because its balance stayed depleted past the grace period."""
    return next_version(account, now, status=AccountStatus.SUSPENDED, suspended_for_balance=True)


def may_suspend(account: Account, *, now: datetime, grace_hours: float) -> bool:
    """A prepaid, active account depleted for longer than the grace period is to be suspended."""
    since = account.balance_depleted_since
    return (
        is_prepaid(account)
        and account.status == AccountStatus.ACTIVE
        and since is not None
        and (now - since).total_seconds() > grace_hours * 3600
    )
