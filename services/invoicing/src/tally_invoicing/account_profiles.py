"""Invoicing's copy of each account's whole state, for the month close (mode, terms, zones)."""

from collections.abc import Sequence

from tally_contracts.accounts import AccountState
from tally_contracts.topics import ACCOUNT_STATE
from tally_runtime.consumer import BatchHandler, Subscription
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_invoicing import profiles_repository


async def record_account_profiles(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> None:
    """Keep each account's newest state; safe to run twice (the version decides)."""
    states = [AccountState.model_validate_json(record.value) for record in records]
    await profiles_repository.store_profiles(unit.conn, states)


def _both(first: BatchHandler, second: BatchHandler) -> BatchHandler:
    async def handler(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> object:
        result = await first(records, unit)
        await second(records, unit)
        return result

    return handler


def with_account_profiles(subscriptions: Sequence[Subscription]) -> tuple[Subscription, ...]:
    """The service's topic map, its account-state handler also keeping the profiles.

    The engine takes one handler per topic; the profiles join that handler's transaction.
    """
    if not any(s.topic == ACCOUNT_STATE for s in subscriptions):
        return (*subscriptions, Subscription(ACCOUNT_STATE, record_account_profiles, ahead=True))
    return tuple(
        Subscription(s.topic, _both(s.handler, record_account_profiles), ahead=s.ahead)
        if s.topic == ACCOUNT_STATE
        else s
        for s in subscriptions
    )
