"""Rating recorded usage: exact charges, the prepaid drawdown, crossings and exposure."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tally_contracts.accounts import BillingMode
from tally_contracts.balances import BalanceChanged, ExposureCrossed
from tally_contracts.topics import BALANCE_ALERTS, BALANCE_CHANGED
from tally_contracts.usage import UsageRecorded
from tally_runtime.database import Connection
from tally_runtime.records import ConsumedRecord
from tally_runtime.units import UnitOfWork

from tally_invoicing import (
    domain,
    ledger,
    ledger_repository,
    posting,
    pricing,
    rating_repository,
    repository,
)
from tally_invoicing.domain import CURRENCY, Charge
from tally_invoicing.ledger import Entry, EntryKind
from tally_invoicing.prepaid import TRIAL_CREDIT


async def charge_usage(records: Sequence[ConsumedRecord], unit: UnitOfWork) -> list[Charge]:
    """Rate a batch of recorded usage, draw prepaid balances down, publish what crossed.

    Safe to run twice: a charge's id is derived from its usage, and the accounts' rows are
    locked before the stored charges are looked up, so usage charged before (redelivered,
    republished, or rated by another replica meanwhile) is skipped and moves nothing.
    Returns the charges made now.
    """
    conn, now = unit.conn, unit.clock()
    first: dict[str, tuple[UsageRecorded, ConsumedRecord]] = {}
    for record in records:
        usage = UsageRecorded.model_validate_json(record.value)
        first.setdefault(
            domain.charge_id_for(usage.account_sid, usage.usage_event_id), (usage, record)
        )
    accounts = await ledger_repository.lock_accounts(
        conn, [usage.account_sid for usage, _ in first.values()], now
    )
    done = await repository.existing_charges(conn, list(first))
    new = [(usage, record) for charge_id, (usage, record) in first.items() if charge_id not in done]
    if not new:
        return []
    credits = await _trial_credits_of_unseen(conn, accounts, now)
    terms = await ledger_repository.account_terms(conn, list(accounts))
    usages = [(u, *domain.dated(u, terms[u.account_sid][0])) for u, _ in new]
    closed = await rating_repository.closed_periods(
        conn, sorted({(u.account_sid, period) for u, period, _ in usages})
    )
    scopes = sorted({(u.account_sid, p, u.category) for u, p, _ in usages}, key=str)
    running = await rating_repository.lock_running_quantities(conn, scopes)
    cards = {sid: pricing.card_with(t[1]) for sid, t in terms.items()}
    prepaid = {sid: a.billing_mode is not BillingMode.INVOICED for sid, a in accounts.items()}
    late = {u.usage_event_id: (u.account_sid, p) in closed for u, p, _ in usages}
    charges, totals = domain.rate_batch(usages, running, cards, prepaid, late, now)
    await repository.insert_charges(conn, charges)
    await rating_repository.store_running_quantities(
        conn,
        {
            scope: (quantity, pricing.price(scope[2], quantity, cards[scope[0]]))
            for scope, quantity in totals.items()
        },
    )
    cause = {c.charge_id: record for c, (_, record) in zip(charges, new, strict=True)}
    drawn = [
        Entry(f"charge:{c.charge_id}", c.account_sid, EntryKind.DRAWDOWN, -c.amount, now)
        for c in charges
        if c.prepaid
    ]
    prepaid_of: dict[str, list[Charge]] = defaultdict(list)
    for charge in charges:
        if charge.prepaid:
            prepaid_of[charge.account_sid].append(charge)
    for posted in await posting.post_locked(conn, accounts, credits + drawn, now):
        _publish_balance(unit, posted, prepaid_of[posted.account.account_sid], cause)
    await _track_exposure(unit, [c for c in charges if not c.prepaid], cause)
    return charges


async def _trial_credits_of_unseen(
    conn: Connection, accounts: dict[str, ledger.LedgerAccount], now: datetime
) -> list[Entry]:
    """The trial credit of accounts invoicing has no state for yet, before their first charge.

    Every account opens as a trial with its credit, and usage can reach rating before the
    account's first state does (each topic has its own lag): without the credit first, a new
    customer's first usage would draw from an empty balance and cross "depleted". The
    credit's own key keeps it to once per account, whichever of the two paths gives it.
    """
    unseen = [sid for sid, account in accounts.items() if not account.mode_version]
    if not unseen:
        return []
    credited = await repository.insert_trial_credits(conn, unseen, TRIAL_CREDIT, now)
    return [
        Entry(f"trial_credit:{sid}", sid, EntryKind.TRIAL_CREDIT, TRIAL_CREDIT, now)
        for sid in credited
    ]


def _publish_balance(
    unit: UnitOfWork,
    posted: ledger.Posted,
    of_account: Sequence[Charge],
    cause: dict[str, ConsumedRecord],
) -> None:
    """Each crossing once, and one balance change per account and batch: the latest balance.

    `of_account` are the batch's prepaid charges of the posted account, in batch order.
    """
    last = of_account[-1]
    for crossed in posted.crossings:
        charge_id = crossed.event_id.rsplit("charge:", 1)[-1]
        unit.publish(BALANCE_ALERTS, crossed.account_sid, crossed, cause=cause.get(charge_id))
    change = BalanceChanged(
        event_id=f"charge:{last.charge_id}",
        occurred_at=last.charged_at,
        account_sid=last.account_sid,
        cause="charge",
        charge_id=last.charge_id,
        usage_event_id=last.usage_event_id,
        amount=sum((c.amount for c in of_account), Decimal(0)),
        balance=posted.balance,
        currency=CURRENCY,
    )
    unit.publish(BALANCE_CHANGED, change.account_sid, change, cause=cause[last.charge_id])


async def _track_exposure(
    unit: UnitOfWork, charges: Sequence[Charge], cause: dict[str, ConsumedRecord]
) -> None:
    """Publish an invoiced account's exposure crossing 80 % or 100 % of its limit, once each."""
    if not charges:
        return
    last: dict[str, Charge] = {}
    for charge in charges:
        last[charge.account_sid] = charge
    terms = await ledger_repository.account_terms(unit.conn, list(last))
    exposures = await rating_repository.exposures(unit.conn, list(last))
    levels: dict[str, int] = {}
    for sid, charge in last.items():
        _, _, limit, alerted = terms[sid]
        exposure = exposures.get(sid, Decimal(0))
        level = ledger.exposure_level(exposure, limit)
        if level == alerted:
            continue
        levels[sid] = level
        for percent in (80, 100):
            if alerted < percent <= level and limit is not None:
                unit.publish(
                    BALANCE_ALERTS,
                    sid,
                    ExposureCrossed(
                        event_id=f"exposure:{percent}:{charge.charge_id}",
                        occurred_at=charge.charged_at,
                        account_sid=sid,
                        percent=80 if percent == 80 else 100,
                        exposure=exposure,
                        credit_limit=limit,
                    ),
                    cause=cause[charge.charge_id],
                )
    if levels:
        await rating_repository.set_exposure_alerted(unit.conn, levels)
