"""Use cases fed by other services' facts: an account's state, and a month invoicing closed."""

from collections import Counter
from collections.abc import Sequence

from tally_contracts.accounts import AccountState
from tally_contracts.invoices import MonthClosed
from tally_runtime import account_states
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_usage import accounts_repository
from tally_usage.domain import Outcome
from tally_usage.handlers import record_usage


async def record_account_states(
    records: Sequence[ConsumedRecord], unit: UnitOfWork
) -> Counter[Outcome]:
    """Keep each account's newest state and zone history; apply the usage awaiting it.

    Safe to run twice: the version keeps an older state out, and an awaiting record is
    removed in the transaction that applies it.
    """
    newest: dict[str, AccountState] = {}
    for record in records:
        state = AccountState.model_validate_json(record.value)
        kept = newest.get(state.account_sid)
        if kept is None or kept.version < state.version:
            newest[state.account_sid] = state
    account_sids = sorted(newest)
    known = await accounts_repository.known_among(unit.conn, account_sids)
    # Only an account not known yet can have usage being parked for it right now.
    first_seen = [sid for sid in account_sids if sid not in known]
    await accounts_repository.lock_awaited_accounts(unit.conn, first_seen)
    await account_states.record_account_states(records, unit)
    await accounts_repository.replace_time_zones(unit.conn, list(newest.values()))
    awaited = await accounts_repository.take_awaiting(unit.conn, account_sids)
    if not awaited:
        return Counter()
    return await record_usage(awaited, unit)


async def record_months_closed(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    """Remember the periods invoicing closed: usage for them that arrives later is late."""
    closed = [MonthClosed.model_validate_json(record.value) for record in records]
    await accounts_repository.close_periods(
        unit.conn, [(event.account_sid, event.period, event.occurred_at) for event in closed]
    )
