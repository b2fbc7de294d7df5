"""Usage of accounts usage has not seen yet: parked as it came, until the account's state arrives.

Nothing is lost and nothing is dead-lettered for arriving early: the record waits in
`awaiting_account` and goes through the normal path (`handlers.record_usage`) in the
transaction that brings its account's state (`account_handlers`).

Parking and applying race when a usage batch and a state batch of one account commit at
once. Both take the account's advisory lock until commit, and the usage side looks again
once it holds it: either the state committed first (the record is applied now) or the
record is parked before the state side looks for it (it is applied with the state).
"""

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_usage import accounts_repository
from tally_usage.dating import AccountDating
from tally_usage.domain import Outcome, SortedBatch


async def datings_parking_the_rest(
    unit: UnitOfWork,
    batch: SortedBatch,
    causes: Mapping[int, ConsumedRecord],
    now: datetime,
) -> tuple[dict[str, AccountDating], Counter[Outcome]]:
    """What dates each known account of the batch; the valid records of the others are parked.

    One query for the whole batch; the lock and the second look only for accounts not known.
    """
    accounts = sorted({accepted.event.account_sid for accepted in batch.firsts})
    datings = await accounts_repository.account_datings(unit.conn, accounts)
    unknown = [sid for sid in accounts if sid not in datings]
    if not unknown:
        return datings, Counter()
    await accounts_repository.lock_awaited_accounts(unit.conn, unknown)
    datings |= await accounts_repository.account_datings(unit.conn, unknown)
    waiting = [
        (accepted.event.account_sid, causes[id(accepted.message)])
        for accepted in batch.firsts + batch.repeats_in_batch
        if accepted.event.account_sid not in datings
    ]
    parked = await accounts_repository.park_awaiting(unit.conn, waiting, now)
    # A record parked already (this very record, delivered again) is a redelivery.
    return datings, Counter({Outcome.PARKED: parked, Outcome.REDELIVERED: len(waiting) - parked})
