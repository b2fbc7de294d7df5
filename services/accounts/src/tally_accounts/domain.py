"""Accounts: what one is, how a new one starts, and the state event every change publishes."""

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from tally_contracts.accounts import (
    AccountState,
    AccountStatus,
    Address,
    AutoRecharge,
    BillingMode,
    BillingPreferences,
    InvoicingTerms,
    is_iana_zone,
)
from tally_contracts.periods import ZoneSpan


def new_account_sid() -> str:
    """A fresh, unguessable account SID: `AC` and 32 lowercase hex digits."""
    return "AC" + secrets.token_hex(16)


def is_valid_time_zone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine can compute periods in."""
    return is_iana_zone(name)


def address_id_of(owner: str, address: Address) -> str:
    """The id of `address` in `owner`'s address book: the same address is stored once."""
    canonical = json.dumps([owner, address.model_dump()], sort_keys=True, separators=(",", ":"))
    return "AD" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class NewAccount:
    """What a caller says about an account it wants opened."""

    owner: str
    friendly_name: str
    time_zone: str
    flex: bool = False
    multi_account_invoicing: bool = False
    reseller: bool = False
    nonprofit_org: bool = False
    contact_email: str | None = None
    webhook_url: str | None = None
    address: Address | None = None

    def fingerprint(self) -> bytes:
        """A hash of the request: asking twice for one SID must be asking the same thing."""
        fields = dict(vars(self), address=self.address.model_dump() if self.address else None)
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()


class SidTaken(Exception):
    """The SID a caller named is already an account, opened by another request."""

    def __init__(self, sid: str) -> None:
        super().__init__(f"{sid} was opened by another request")
        self.sid = sid


class AccountNotFound(Exception):
    """No account has this SID."""

    def __init__(self, sid: str) -> None:
        super().__init__(f"no account {sid}")
        self.sid = sid


@dataclass(frozen=True)
class Account:
    """The whole current state of one account; `version` counts its changes from 1."""

    sid: str
    owner: str
    friendly_name: str
    time_zone: str
    status: AccountStatus
    billing_mode: BillingMode
    flex: bool
    multi_account_invoicing: bool
    reseller: bool
    nonprofit_org: bool
    version: int
    created_at: datetime
    updated_at: datetime
    contact_email: str | None = None
    webhook_url: str | None = None
    time_zones: tuple[ZoneSpan, ...] = ()
    """The zone history; empty means `time_zone` has always applied."""
    terms: InvoicingTerms | None = None
    auto_recharge: AutoRecharge = field(default_factory=AutoRecharge)
    mailing_address: Address | None = None
    po_number: str | None = None
    invoice_recipients: tuple[str, ...] = ()
    billing_address_id: str | None = None
    billing_address: Address | None = None
    suspended_for_balance: bool = False
    balance_depleted_since: datetime | None = None
    balance_seen_at: datetime | None = None
    """When the newest balance fact applied happened: an older one arriving late is ignored."""


def open_trial_account(request: NewAccount, *, sid: str, now: datetime) -> Account:
    """A new account: active, on trial, at version 1."""
    return Account(
        sid=sid,
        owner=request.owner,
        friendly_name=request.friendly_name,
        time_zone=request.time_zone,
        status=AccountStatus.ACTIVE,
        billing_mode=BillingMode.TRIAL,
        flex=request.flex,
        multi_account_invoicing=request.multi_account_invoicing,
        reseller=request.reseller,
        nonprofit_org=request.nonprofit_org,
        version=1,
        created_at=now,
        updated_at=now,
        contact_email=request.contact_email,
        webhook_url=request.webhook_url,
    )


def state_event(account: Account) -> AccountState:
    """The AccountState fact for this version; its id is derived, so a republish is recognised."""
    return AccountState(
        event_id=f"account:{account.sid}:v{account.version}",
        occurred_at=account.updated_at,
        account_sid=account.sid,
        version=account.version,
        owner=account.owner,
        friendly_name=account.friendly_name,
        time_zone=account.time_zone,
        status=account.status,
        billing_mode=account.billing_mode,
        flex=account.flex,
        multi_account_invoicing=account.multi_account_invoicing,
        reseller=account.reseller,
        nonprofit_org=account.nonprofit_org,
        time_zones=list(account.time_zones),
        contact_email=account.contact_email,
        webhook_url=account.webhook_url,
        terms=account.terms,
        auto_recharge=account.auto_recharge,
        billing=BillingPreferences(
            mailing_address=account.mailing_address,
            billing_address=account.billing_address,
            po_number=account.po_number,
            invoice_recipients=list(account.invoice_recipients),
        ),
        suspended_for_balance=account.suspended_for_balance,
    )
