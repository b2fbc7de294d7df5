"""Use cases of the accounts service: each change and its AccountState event in one transaction."""

import asyncpg
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime import outbox
from tally_runtime.clock import Clock

from tally_accounts import repository
from tally_accounts.domain import (
    Account,
    NewAccount,
    new_account_sid,
    open_trial_account,
    state_event,
)


async def create_account(request: NewAccount, *, pool: asyncpg.Pool, clock: Clock) -> Account:
    """Open a trial account and enqueue its first state, atomically."""
    account = open_trial_account(request, sid=new_account_sid(), now=clock())
    async with pool.acquire() as conn, conn.transaction():
        await repository.insert_account(conn, account)
        await outbox.enqueue(conn, ACCOUNT_STATE, account.sid, state_event(account))
    return account


async def find_account(sid: str, *, pool: asyncpg.Pool) -> Account | None:
    """The account with this SID, or None."""
    return await repository.fetch_account(pool, sid)
