"""SQL of invoicing's copy of account states (`account_profiles`), which month close reads."""

from collections.abc import Sequence

from tally_contracts.accounts import AccountState
from tally_runtime.database import Connection


async def store_profiles(conn: Connection, states: Sequence[AccountState]) -> None:
    """Keep each account's newest state; an older version never overwrites a newer one."""
    newest: dict[str, AccountState] = {}
    for state in states:
        kept = newest.get(state.account_sid)
        if kept is None or kept.version < state.version:
            newest[state.account_sid] = state
    sids = sorted(newest)  # a fixed order: concurrent batches cannot deadlock
    await conn.execute(
        """
        INSERT INTO account_profiles (account_sid, version, state, updated_at)
        SELECT sid, version, state::jsonb, now()
        FROM unnest($1::text[], $2::int[], $3::text[]) AS u(sid, version, state)
        ON CONFLICT (account_sid) DO UPDATE
            SET version = EXCLUDED.version, state = EXCLUDED.state,
                updated_at = EXCLUDED.updated_at
            WHERE account_profiles.version < EXCLUDED.version
        """,
        sids,
        [newest[sid].version for sid in sids],
        [newest[sid].model_dump_json() for sid in sids],
    )


async def profiles(conn: Connection, sids: Sequence[str]) -> dict[str, AccountState]:
    """The newest state kept for each of `sids` that invoicing has seen."""
    rows = await conn.fetch(
        "SELECT account_sid, state::text AS state FROM account_profiles"
        " WHERE account_sid = ANY($1::text[])",
        list(sids),
    )
    return {row["account_sid"]: AccountState.model_validate_json(row["state"]) for row in rows}
