"""Accounts: what one is, how a new one starts, and the state event every change publishes."""

import hashlib
import json
import secrets
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import datetime

from tally_contracts.accounts import AccountState, AccountStatus, BillingMode

# Valid keys whose meaning depends on the machine, not on the customer's location.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def new_account_sid() -> str:
    """A fresh, unguessable account SID: `AC` and 32 lowercase hex digits."""
    return "AC" + secrets.token_hex(16)


def is_valid_time_zone(name: str) -> bool:
    """True when `name` is an IANA time zone this machine can compute periods in."""
    if name in _HOST_DEPENDENT_ZONES:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


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

    def fingerprint(self) -> bytes:
        """A hash of the request: asking twice for one SID must be asking the same thing."""
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()


class SidTaken(Exception):
    """The SID a caller named is already an account, opened by another request."""

    def __init__(self, sid: str) -> None:
        super().__init__(f"{sid} was opened by another request")
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
    )
