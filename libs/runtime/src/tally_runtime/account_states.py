"""The newest state of each account from `accounts.state.v1`, kept by the services that read it.

A service using it applies `ACCOUNT_STATE_MIGRATIONS` (`migrated_database(..., projections=)`)
and adds `ACCOUNT_STATES` to the subscriptions it hands the engine.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE

from tally_runtime.consumer import Subscription
from tally_runtime.database import Connection
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

ACCOUNT_STATE_MIGRATIONS = Path(__file__).parent / "account_state_migrations"
"""The `known_accounts` table, for `migrated_database(..., projections=[...])`."""


@dataclass(frozen=True)
class KnownAccount:
    """What a service knows of an account: its newest state from `accounts.state.v1`."""

    account_sid: str
    version: int
    billing_mode: BillingMode
    status: AccountStatus
    time_zone: str


async def record_account_states(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    """Keep each account's newest state from a batch of `accounts.state.v1`.

    No inbox: the version is the idempotency key, so a repeat is harmless, and unlike an
    inbox it also refuses an older state delivered after a newer one.
    """
    newest: dict[str, AccountState] = {}
    for record in records:
        state = AccountState.model_validate_json(record.value)
        kept = newest.get(state.account_sid)
        if kept is None or kept.version < state.version:
            newest[state.account_sid] = state
    states = list(newest.values())
    await unit.conn.execute(
        """
        INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,
                                    state_occurred_at, updated_at)
        SELECT *, now() FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[],
                                    $6::timestamptz[])
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version,
                billing_mode = EXCLUDED.billing_mode,
                status = EXCLUDED.status,
                time_zone = EXCLUDED.time_zone,
                state_occurred_at = EXCLUDED.state_occurred_at,
                updated_at = EXCLUDED.updated_at
            WHERE known_accounts.version < EXCLUDED.version
        """,
        [state.account_sid for state in states],
        [state.version for state in states],
        [state.billing_mode.value for state in states],
        [state.status.value for state in states],
        [state.time_zone for state in states],
        [state.occurred_at for state in states],
    )


ACCOUNT_STATES = Subscription(ACCOUNT_STATE, record_account_states)
"""The subscription that keeps `known_accounts` current; add it to the service's map."""


async def known_account(conn: Connection | asyncpg.Pool, account_sid: str) -> KnownAccount | None:
    """The newest state kept for one account; None until its first state has been consumed."""
    return (await known_accounts(conn, [account_sid])).get(account_sid)


async def known_accounts(
    conn: Connection | asyncpg.Pool, account_sids: Sequence[str]
) -> dict[str, KnownAccount]:
    """The newest state kept for each of `account_sids` whose state has been consumed."""
    rows = await conn.fetch(
        "SELECT account_sid, version, billing_mode, status, time_zone"
        " FROM known_accounts WHERE account_sid = ANY($1::text[])",
        list(set(account_sids)),
    )
    return {row["account_sid"]: _known_account(row) for row in rows}


def _known_account(row: asyncpg.Record) -> KnownAccount:
    return KnownAccount(
        account_sid=row["account_sid"],
        version=row["version"],
        billing_mode=BillingMode(row["billing_mode"]),
        status=AccountStatus(row["status"]),
        time_zone=row["time_zone"],
    )
