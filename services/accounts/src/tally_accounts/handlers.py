"""Use cases of the accounts service: each change and its AccountState event in one transaction."""

import asyncpg
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime import outbox
from tally_runtime.clock import Clock

from tally_accounts import repository
from tally_accounts.domain import (
    Account,
    NewAccount,
    SidTaken,
    new_account_sid,
    open_trial_account,
    state_event,
)


async def open_account(
    request: NewAccount, *, sid: str | None, pool: asyncpg.Pool, clock: Clock
) -> tuple[Account, bool]:
    """Open a trial account and enqueue its first state, atomically; True if it is new.

    A caller that names the SID may ask again (a retry): the same request finds the account
    it opened, unchanged and not published twice; another request is refused (SidTaken).
    """
    account = open_trial_account(request, sid=sid or new_account_sid(), now=clock())
    async with pool.acquire() as conn, conn.transaction():
        if await repository.insert_account(conn, account, opened_with=request.fingerprint()):
            await outbox.enqueue(conn, ACCOUNT_STATE, account.sid, state_event(account))
            return account, True
        existing, opened_with = await repository.fetch_opened(conn, account.sid)
    if opened_with != request.fingerprint():
        raise SidTaken(account.sid)
    return existing, False


async def find_account(sid: str, *, pool: asyncpg.Pool) -> Account | None:
    """The account with this SID, or None."""
    return await repository.fetch_account(pool, sid)
