"""Use cases of the accounts service: each change and its AccountState event in one transaction."""

from collections.abc import Callable

import asyncpg
from tally_contracts.accounts import AccountPatch
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime import outbox
from tally_runtime.clock import Clock

from tally_accounts import address_repository, repository
from tally_accounts.billing_modes import publish_change
from tally_accounts.changes import next_version, with_time_zone
from tally_accounts.domain import (
    Account,
    AccountNotFound,
    NewAccount,
    SidTaken,
    address_id_of,
    new_account_sid,
    open_trial_account,
    state_event,
)

Change = Callable[[Account], dict[str, object] | None]
"""A pure change: the fields it sets on the locked account, or None when nothing changes."""


async def open_account(
    request: NewAccount, *, sid: str | None, pool: asyncpg.Pool, clock: Clock
) -> tuple[Account, bool]:
    """Open a trial account and enqueue its first state, atomically; True if it is new.

    A caller that names the SID may ask again (a retry): the same request finds the account
    it opened, unchanged and not published twice; another request is refused (SidTaken).
    An `address` joins the owner's address book, as used by this account.
    """
    now = clock()
    account = open_trial_account(request, sid=sid or new_account_sid(), now=now)
    async with pool.acquire() as conn, conn.transaction():
        if await repository.insert_account(conn, account, opened_with=request.fingerprint()):
            if request.address is not None:
                address_id = address_id_of(account.owner, request.address)
                await address_repository.add_address(
                    conn, account.owner, address_id, request.address, sid=account.sid, now=now
                )
            await outbox.enqueue(conn, ACCOUNT_STATE, account.sid, state_event(account))
            return account, True
        existing, opened_with = await repository.fetch_opened(conn, account.sid)
    if opened_with != request.fingerprint():
        raise SidTaken(account.sid)
    return existing, False


async def find_account(sid: str, *, pool: asyncpg.Pool) -> Account:
    """The account with this SID; AccountNotFound if there is none."""
    account = await repository.fetch_account(pool, sid)
    if account is None:
        raise AccountNotFound(sid)
    return account


async def change_account(sid: str, change: Change, *, pool: asyncpg.Pool, clock: Clock) -> Account:
    """Apply `change` to the locked account: next version and its state, or nothing at all.

    The row lock orders concurrent changes, so none is lost and versions never fork.
    """
    async with pool.acquire() as conn, conn.transaction():
        account = await repository.lock_account(conn, sid)
        if account is None:
            raise AccountNotFound(sid)
        updates = change(account)
        if not updates:
            return account
        changed = next_version(account, clock(), **updates)
        await repository.update_account(conn, changed)
        await publish_change(conn, account, changed)
        return changed


async def patch_account(
    sid: str, patch: AccountPatch, *, pool: asyncpg.Pool, clock: Clock
) -> Account:
    """Change what a customer may change; a new zone applies from the next billing month."""
    asked = patch.model_dump(exclude_unset=True)
    now = clock()

    def profile(account: Account) -> dict[str, object] | None:
        updates: dict[str, object] = {
            name: value
            for name, value in asked.items()
            if name != "time_zone" and getattr(account, name) != value
        }
        zone = asked.get("time_zone")
        if zone is not None and zone != account.time_zone:
            updates |= with_time_zone(account, zone, now)
        return updates or None

    return await change_account(sid, profile, pool=pool, clock=lambda: now)
