"""Switching an account's billing mode inside the caller's transaction, with its events.

Shared by the invoicing request's activation and the self-service upgrade: the row is locked,
so two switches at once end in one consistent state.
"""

from datetime import datetime

from tally_contracts.accounts import AccountUpgraded, Address, BillingMode, BillingModeChanged
from tally_contracts.topics import ACCOUNT_LIFECYCLE, ACCOUNT_STATE
from tally_runtime import outbox
from tally_runtime.database import Connection

from tally_accounts import repository
from tally_accounts.changes import to_invoiced
from tally_accounts.charge_leases import wait_for_charges
from tally_accounts.domain import Account, AccountNotFound, state_event
from tally_accounts.terms import AgreedTerms


async def publish_change(conn: Connection, before: Account, after: Account) -> None:
    """Enqueue the new state and, if the mode changed, the billing-mode-changed fact."""
    await outbox.enqueue(conn, ACCOUNT_STATE, after.sid, state_event(after))
    if before.billing_mode != after.billing_mode:
        await outbox.enqueue(
            conn,
            ACCOUNT_LIFECYCLE,
            after.sid,
            BillingModeChanged(
                event_id=f"account:{after.sid}:v{after.version}:billing_mode_changed",
                occurred_at=after.updated_at,
                account_sid=after.sid,
                version=after.version,
                previous=before.billing_mode,
                billing_mode=after.billing_mode,
            ),
        )


async def publish_upgrade(conn: Connection, after: Account) -> None:
    """Enqueue the upgraded fact of a completed self-service upgrade."""
    await outbox.enqueue(
        conn,
        ACCOUNT_LIFECYCLE,
        after.sid,
        AccountUpgraded(
            event_id=f"account:{after.sid}:v{after.version}:upgraded",
            occurred_at=after.updated_at,
            account_sid=after.sid,
            version=after.version,
            billing_mode=after.billing_mode,
            address_id=after.billing_address_id,
        ),
    )


async def switch_to_invoiced(
    conn: Connection,
    sid: str,
    terms: AgreedTerms,
    *,
    now: datetime,
    billing_address: tuple[str, Address] | None = None,
) -> Account:
    """Bill the account by invoice on `terms`, auto-recharge off; a no-op if already invoiced.

    Runs inside the caller's transaction: locks the row, writes the next version and enqueues
    its AccountState and BillingModeChanged. Raises AccountNotFound for an unknown SID.
    `billing_address` (its id in the owner's book, and the address) is the upgrade's choice.
    """
    account = await repository.lock_account(conn, sid)
    if account is None:
        raise AccountNotFound(sid)
    if account.billing_mode == BillingMode.INVOICED:
        return account
    await wait_for_charges(conn, sid)  # the billing-mode guard: docs/money.md
    switched = to_invoiced(account, terms, now=now, billing_address=billing_address)
    await repository.update_account(conn, switched)
    await publish_change(conn, account, switched)
    return switched
