"""The newest state of each account from `accounts.state.v1`, kept by the services that read it.

A service using it applies `ACCOUNT_STATE_MIGRATIONS` (`migrated_database(..., projections=)`)
and calls `subscribe_account_states` before its broker starts.
"""

from dataclasses import dataclass
from pathlib import Path

import asyncpg
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.topics import ACCOUNT_STATE

from tally_runtime.consuming import exactly_once, parse_or_skip
from tally_runtime.database import Connection
from tally_runtime.failpoints import AFTER_DB_COMMIT, crash_if_armed
from tally_runtime.settings import ServiceSettings

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


async def record_account_state(state: AccountState, *, pool: asyncpg.Pool) -> bool:
    """Keep `state` unless a version at least as new is kept; True when it changed anything."""
    # No inbox row: the version is the idempotency key, so a repeat is harmless, and unlike an
    # inbox it also refuses an older state delivered after a newer one.
    status = await pool.execute(
        """
        INSERT INTO known_accounts (account_sid, version, billing_mode, status, time_zone,
                                    state_occurred_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, now())
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version,
                billing_mode = EXCLUDED.billing_mode,
                status = EXCLUDED.status,
                time_zone = EXCLUDED.time_zone,
                state_occurred_at = EXCLUDED.state_occurred_at,
                updated_at = EXCLUDED.updated_at
            WHERE known_accounts.version < EXCLUDED.version
        """,
        state.account_sid,
        state.version,
        state.billing_mode.value,
        state.status.value,
        state.time_zone,
        state.occurred_at,
    )
    return bool(status == "INSERT 0 1")


async def known_account(conn: Connection | asyncpg.Pool, account_sid: str) -> KnownAccount | None:
    """The newest state kept for one account; None until its first state has been consumed."""
    row = await conn.fetchrow(
        "SELECT account_sid, version, billing_mode, status, time_zone"
        " FROM known_accounts WHERE account_sid = $1",
        account_sid,
    )
    if row is None:
        return None
    return KnownAccount(
        account_sid=row["account_sid"],
        version=row["version"],
        billing_mode=BillingMode(row["billing_mode"]),
        status=AccountStatus(row["status"]),
        time_zone=row["time_zone"],
    )


def subscribe_account_states(
    broker: KafkaBroker, settings: ServiceSettings, pool: asyncpg.Pool
) -> None:
    """Keep every account's newest state in `known_accounts`; call before the broker starts."""

    @exactly_once(broker, ACCOUNT_STATE, settings)
    async def on_account_state(msg: KafkaMessage) -> None:
        if state := parse_or_skip(AccountState, msg):
            await record_account_state(state, pool=pool)
        crash_if_armed(settings, AFTER_DB_COMMIT)
