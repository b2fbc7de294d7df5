"""Posting entries to locked ledger accounts: balances, crossings and pending recharges."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from tally_runtime.database import Connection

from tally_invoicing import ledger, ledger_repository, recharge_repository
from tally_invoicing.ledger import Entry, LedgerAccount, Posted


async def post_locked(
    conn: Connection,
    accounts: Mapping[str, LedgerAccount],
    entries: Sequence[Entry],
    at: datetime,
) -> list[Posted]:
    """Apply the entries not in the ledger yet to accounts whose rows the caller locked.

    Writes the entries, each balance (their running total) and alert state, and a pending
    recharge for a crossing that asks for one; the caller publishes the crossings.
    """
    known = await ledger_repository.existing_entries(conn, [e.entry_id for e in entries])
    by_account: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.entry_id not in known:
            known.add(entry.entry_id)
            by_account[entry.account_sid].append(entry)
    posted = [ledger.post(accounts[sid], fresh) for sid, fresh in sorted(by_account.items())]
    if not posted:
        return []
    await ledger_repository.save_posted(conn, posted, at)
    recharges = [
        (ledger.recharge_id_for(crossed), p.account.account_sid, p.account.recharge_amount)
        for p in posted
        for crossed in p.crossings
        if ledger.needs_recharge(p.account, crossed) and p.account.recharge_amount is not None
    ]
    if recharges:
        await recharge_repository.insert_pending_recharges(conn, recharges, at)
    return posted


async def post(conn: Connection, entries: Sequence[Entry], at: datetime) -> list[Posted]:
    """Lock the entries' accounts, then post them (`post_locked`)."""
    accounts = await ledger_repository.lock_accounts(conn, [e.account_sid for e in entries], at)
    return await post_locked(conn, accounts, entries, at)
