"""Use cases: record a batch of raw usage exactly once, dated; read receipts and usage totals."""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from tally_contracts.topics import USAGE_RECORDED, USAGE_REJECTED
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_usage import awaiting, daily_repository, repository
from tally_usage.dating import (
    AccountDating,
    daily_totals,
    date_usage,
    dated_recorded,
    number_days,
)
from tally_usage.domain import (
    UNKNOWN_KEY,
    AcceptedUsage,
    InvalidUsage,
    Outcome,
    RawUsageMessage,
    StoredUsage,
    classify_repeat,
    sort_batch,
    stored_as,
)
from tally_usage.published import conflict_letter, dead_letter
from tally_usage.receipts import (
    CategoryTotal,
    EventHistory,
)

Key = tuple[str, str]
Causes = dict[int, ConsumedRecord]
"""The record each message came from, by `id(message)`: what a published fact was caused by."""


async def record_usage(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> Counter[Outcome]:
    """Apply a batch of `usage.events.v1`: store new events, count repeats, reject the rest.

    New events are dated in their account's time zone and added to the daily aggregates in
    the same transaction; events of accounts with no known state wait for it (`awaiting`).
    Safe to run twice: every row is keyed by the event's identity or by the record that
    carried it, so a redelivered batch finds its rows and publishes nothing again.
    """
    now = unit.clock()
    messages = [RawUsageMessage(r.topic, r.partition, r.offset, r.key, r.value) for r in records]
    causes = {id(message): record for message, record in zip(messages, records, strict=True)}
    batch = sort_batch(messages, now)
    # Before any other write: parking may wait for an account's lock (see `awaiting`).
    datings, outcomes = await awaiting.datings_parking_the_rest(unit, batch, causes, now)
    outcomes.update(await _reject(unit, batch.invalid, causes, now))
    firsts = [a for a in batch.firsts if a.event.account_sid in datings]
    inserted = await _store_new(unit, firsts, datings, causes, now)
    outcomes[Outcome.RECORDED] = len(inserted)
    repeats = [accepted for accepted in firsts if accepted.key not in inserted]
    repeats += [a for a in batch.repeats_in_batch if a.event.account_sid in datings]
    if repeats:
        stored = {a.key: stored_as(a) for a in firsts if a.key in inserted}
        outcomes.update(await _settle_repeats(unit, repeats, stored, causes, now))
    return outcomes


async def _reject(
    unit: UnitOfWork,
    invalid: list[tuple[RawUsageMessage, InvalidUsage]],
    causes: Causes,
    now: datetime,
) -> Counter[Outcome]:
    letters = [(message, bad, dead_letter(message, bad.errors, now)) for message, bad in invalid]
    new = await repository.insert_rejections(unit.conn, [(bad, ltr) for _, bad, ltr in letters])
    for message, _, letter in letters:
        if letter.letter_id in new:
            key = message.key_text or UNKNOWN_KEY
            unit.publish(USAGE_REJECTED, key, letter, cause=causes[id(message)])
    return Counter({Outcome.REJECTED: len(new), Outcome.REDELIVERED: len(letters) - len(new)})


async def _store_new(
    unit: UnitOfWork,
    firsts: list[AcceptedUsage],
    datings: dict[str, AccountDating],
    causes: Causes,
    now: datetime,
) -> set[Key]:
    """Store the new events dated, add them to the daily aggregates and announce them."""
    dated = [date_usage(accepted, datings[accepted.event.account_sid]) for accepted in firsts]
    inserted = await repository.insert_new_events(unit.conn, dated, now)
    # Only the rows new here count: a repeat or a redelivery adds nothing to any aggregate.
    new = [item for item in dated if item.accepted.key in inserted]
    await daily_repository.add_daily_totals(unit.conn, daily_totals(new))
    await daily_repository.add_number_days(unit.conn, number_days(new))
    for item in new:
        recorded = dated_recorded(item, now)
        cause = causes[id(item.accepted.message)]
        unit.publish(USAGE_RECORDED, recorded.account_sid, recorded, cause=cause)
    return inserted


async def _settle_repeats(
    unit: UnitOfWork,
    repeats: list[AcceptedUsage],
    stored: dict[Key, StoredUsage],
    causes: Causes,
    now: datetime,
) -> Counter[Outcome]:
    """Tell redeliveries from producers' duplicates and conflicts, and keep each repeat once."""
    missing = [accepted.key for accepted in repeats if accepted.key not in stored]
    stored = stored | await repository.stored_usage(unit.conn, missing)
    outcomes: Counter[Outcome] = Counter()
    duplicates, conflicts = [], []
    for accepted in repeats:
        outcome = classify_repeat(accepted, stored[accepted.key])
        if outcome is Outcome.DUPLICATE:
            duplicates.append(accepted)
        elif outcome is Outcome.CONFLICT:
            conflicts.append(accepted)
        else:
            outcomes[outcome] += 1
    new_duplicates = await repository.insert_duplicates(unit.conn, duplicates, now)
    outcomes[Outcome.DUPLICATE] += new_duplicates
    letters = [(accepted, conflict_letter(accepted, now)) for accepted in conflicts]
    new = await repository.insert_conflicts(unit.conn, letters)
    for accepted, letter in letters:
        if letter.letter_id in new:
            cause = causes[id(accepted.message)]
            unit.publish(USAGE_REJECTED, accepted.event.account_sid, letter, cause=cause)
    outcomes[Outcome.CONFLICT] += len(new)
    # A repeat kept before (this very record, delivered again) is a redelivery.
    outcomes[Outcome.REDELIVERED] += len(duplicates) - new_duplicates + len(letters) - len(new)
    return outcomes


async def event_histories(
    account_sid: str, event_ids: Sequence[str], *, pool: asyncpg.Pool
) -> dict[str, EventHistory]:
    """What became of each event id of the account (ids never seen map to an empty history)."""
    async with pool.acquire() as conn:
        found = await repository.event_histories(conn, account_sid, event_ids)
    return {event_id: found.get(event_id, EventHistory()) for event_id in event_ids}


async def usage_summary(account_sid: str, *, pool: asyncpg.Pool) -> list[CategoryTotal]:
    """Stored events and total quantity per category of the account."""
    async with pool.acquire() as conn:
        return await repository.category_totals(conn, account_sid)
