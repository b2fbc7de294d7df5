"""The usage write path against real PostgreSQL: batches applied as the engine applies them.

Each call applies one batch in the transaction the engine would open (`apply_batch`), with the
service's own handlers; what a test checks is read back from the tables a user's figures
come from (`usage_daily`, `number_usage_daily`, `usage_events`, `awaiting_account`, outbox).
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
from tally_contracts.accounts import AccountState, AccountStatus, BillingMode
from tally_contracts.invoices import MonthClosed
from tally_contracts.periods import EARLIEST, ZoneSpan
from tally_contracts.topics import ACCOUNT_STATE, MONTH_CLOSED, USAGE_EVENTS
from tally_runtime.consumer import apply_batch
from tally_runtime.records import ConsumedRecord
from tally_testkit import consumed
from tally_usage.account_handlers import record_account_states, record_months_closed
from tally_usage.domain import Outcome
from tally_usage.handlers import record_usage

NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
"""The handlers' clock: after every instant the tests date, so none is in the future."""


def clock() -> datetime:
    return NOW


def utc(text: str) -> datetime:
    """A UTC instant from its ISO text without an offset."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def first_zone(time_zone: str) -> ZoneSpan:
    return ZoneSpan(time_zone=time_zone, effective_from=EARLIEST)


def state(
    sid: str, version: int, time_zone: str, zones: list[ZoneSpan] | None = None
) -> AccountState:
    """Version `version` of an account's state, in `time_zone` (with its zone history if any)."""
    return AccountState(
        event_id=f"account:{sid}:v{version}",
        occurred_at=NOW,
        account_sid=sid,
        version=version,
        owner="usage-tests",
        friendly_name="local time",
        time_zone=time_zone,
        status=AccountStatus.ACTIVE,
        billing_mode=BillingMode.PAY_AS_YOU_GO,
        time_zones=zones or [],
    )


def usage(sid: str, offset: int, occurred_at: str, **fields: Any) -> ConsumedRecord:
    """A usage record at `offset` of partition 0; its event id is `e-<offset>` unless given."""
    document = {
        "event_id": f"e-{offset}",
        "account_sid": sid,
        "category": "calls-outbound",
        "quantity": "1",
        "occurred_at": occurred_at,
    } | fields
    return ConsumedRecord(USAGE_EVENTS, 0, offset, sid.encode(), json.dumps(document).encode())


@dataclass
class WritePath:
    """The usage handlers over one test database."""

    pool: asyncpg.Pool
    state_offsets: Counter[str] = field(default_factory=Counter)

    async def record(self, *records: ConsumedRecord) -> Counter[Outcome]:
        """Apply `records` as one batch of `usage.events.v1`; what became of them."""
        applied = await apply_batch(self.pool, record_usage, records, clock=clock)
        assert isinstance(applied.result, Counter)
        return +applied.result

    async def account(self, account_state: AccountState) -> Counter[Outcome]:
        """Apply one account state as a batch of `accounts.state.v1`."""
        offset = self.state_offsets[account_state.account_sid] = (
            self.state_offsets[account_state.account_sid] + 1
        )
        record = consumed(ACCOUNT_STATE, account_state, offset=offset)
        return await self.account_record(record)

    async def account_record(self, record: ConsumedRecord) -> Counter[Outcome]:
        applied = await apply_batch(self.pool, record_account_states, [record], clock=clock)
        assert isinstance(applied.result, Counter)
        return +applied.result

    async def close_month(self, sid: str, period: str) -> None:
        """Invoicing closed `period` of the account."""
        closed = MonthClosed(
            event_id=f"closed:{sid}:{period}", occurred_at=NOW, account_sid=sid, period=period
        )
        await apply_batch(
            self.pool, record_months_closed, [consumed(MONTH_CLOSED, closed)], clock=clock
        )

    async def dated_events(self, sid: str) -> dict[str, tuple[date, str, bool]]:
        """Each stored event's (local date, period, late), by event id."""
        rows = await self.pool.fetch(
            "SELECT event_id, local_date, period, late FROM usage_events WHERE account_sid = $1",
            sid,
        )
        return {r["event_id"]: (r["local_date"], r["period"], r["late"]) for r in rows}

    async def daily(self, sid: str) -> set[tuple[str, date, str, bool, Decimal, int]]:
        """The `usage_daily` rows: (period, local date, category, late, quantity, events)."""
        rows = await self.pool.fetch(
            "SELECT period, local_date, category, late, quantity, events FROM usage_daily"
            " WHERE account_sid = $1",
            sid,
        )
        return {
            (r["period"], r["local_date"], r["category"], r["late"], r["quantity"], r["events"])
            for r in rows
        }

    async def recorded(self, sid: str) -> list[dict[str, Any]]:
        """The UsageRecorded facts waiting in the outbox for the account, oldest first."""
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE key = $1 AND topic = 'usage.recorded.v1' ORDER BY id",
            sid,
        )
        return [json.loads(row["payload"]) for row in rows]
