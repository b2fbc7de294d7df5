"""Rating and charging: pure rules over plain data, Decimal money, an explicit clock."""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tally_contracts.periods import month_of, period_key
from tally_contracts.usage import UsageCategory, UsageRecorded

from tally_invoicing import pricing

CURRENCY = "USD"

PeriodCategory = tuple[str, str, UsageCategory]
"""(account SID, period key, category): the scope a month's graduated tiers apply to."""


def charge_id_for(account_sid: str, usage_event_id: str) -> str:
    """The charge's id, derived from the usage it prices so a replay finds the same charge."""
    digest = hashlib.sha256(f"{account_sid}/{usage_event_id}".encode()).hexdigest()
    return f"CH{digest[:32]}"


@dataclass(frozen=True)
class Charge:
    """One usage event, rated: the exact price its quantity added to the account's month."""

    charge_id: str
    account_sid: str
    usage_event_id: str
    category: UsageCategory
    quantity: Decimal
    unit_price: Decimal
    """The unit price of the tier the usage started in (informative: tiers may split it)."""
    amount: Decimal
    """price(month's quantity after it) - price(before it), exact to 12 places."""
    usage_occurred_at: datetime
    charged_at: datetime
    period: str | None = None
    local_date: date | None = None
    late: bool = False
    prepaid: bool = True
    """Drawn from the prepaid balance when rated (trial, pay as you go); not when invoiced."""


def dated(usage: UsageRecorded, time_zone: str | None) -> tuple[str, date]:
    """The usage's period and local date: as usage dated it, else in the account's zone.

    Usage published before it carried a period is dated in the zone invoicing knows for the
    account (UTC if none yet): a month needs a period for its tiers.
    """
    zone = time_zone or "UTC"
    local_date = usage.local_date or usage.usage_occurred_at.astimezone(ZoneInfo(zone)).date()
    return usage.period or period_key(month_of(local_date), zone), local_date


def rate_batch(
    usages: Sequence[tuple[UsageRecorded, str, date]],
    running: Mapping[PeriodCategory, Decimal],
    cards: Mapping[str, pricing.RateCard],
    prepaid: Mapping[str, bool],
    late: Mapping[str, bool],
    now: datetime,
) -> tuple[list[Charge], dict[PeriodCategory, Decimal]]:
    """Rate new usage in order from each month's running quantity; the charges and new totals.

    Each charge is the price its quantity adds to its account's month and category, so a
    month's charges add up to price(month's total) whatever order its events came in.
    `usages` holds (usage, period, local date); `late` marks usage ids of closed periods.
    """
    totals = dict(running)
    charges = []
    for usage, period, local_date in usages:
        scope = (usage.account_sid, period, usage.category)
        card = cards.get(usage.account_sid, pricing.DEFAULT_RATE_CARD)
        before = totals.get(scope, Decimal(0))
        after = before + usage.quantity
        totals[scope] = after
        amount = pricing.price(usage.category, after, card) - pricing.price(
            usage.category, before, card
        )
        charges.append(
            Charge(
                charge_id=charge_id_for(usage.account_sid, usage.usage_event_id),
                account_sid=usage.account_sid,
                usage_event_id=usage.usage_event_id,
                category=usage.category,
                quantity=usage.quantity,
                unit_price=pricing.unit_price_at(usage.category, before, card),
                amount=amount,
                usage_occurred_at=usage.usage_occurred_at,
                charged_at=now,
                period=period,
                local_date=local_date,
                late=usage.late or late.get(usage.usage_event_id, False),
                prepaid=prepaid.get(usage.account_sid, True),
            )
        )
    return charges, totals


@dataclass(frozen=True)
class Balance:
    """An account's prepaid balance; `updated_at` is None until something first moved it."""

    account_sid: str
    amount: Decimal
    updated_at: datetime | None

    @classmethod
    def opening(cls, account_sid: str) -> "Balance":
        """The balance of an account nothing has moved yet: it starts at 0."""
        return cls(account_sid=account_sid, amount=Decimal(0), updated_at=None)
