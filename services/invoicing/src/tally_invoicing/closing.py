"""Closing a month: the invoice of one account and month, built from plain data. Pure: no I/O.

Rules (CONTRACTS.md §2, §3; DOMAIN.md "Charges, balances, invoices"):
- one `usage` line per category: round(price(the month's total quantity, the card of the
  terms at the close)), half-even to the cent. `unit_price` is the card's price when it is
  flat; for graduated tiers it is the average price of a unit over the month's quantity
  (exact price / quantity, to 6 places), and the description names the tiers;
- the discount is one negative line: round(sum of the usage lines x discount %);
- `adjustment` lines: late usage of an already invoiced month, one line per month and
  category at the price it was rated at; a balance frozen on the switch to invoiced (a
  positive remainder is a credit, a negative line; a negative remainder is owed); a credit
  carried from an earlier invoice whose credits exceeded what was due;
- `total` = sum of the lines; `prepaid_applied` = what the prepaid balance already paid for
  the charges on this invoice; trial and pay-as-you-go: the balance paid every charge, so
  `prepaid_applied` is the whole `total` (the balance was drawn the exact charges, which may
  differ from the rounded lines by under a cent per line: the invoice states the rounded
  figures, so `amount_due` = total - prepaid_applied = 0.00 holds to the cent) and
  `no_balance_due`; invoiced: `amount_due` = total - prepaid_applied, never below 0.00 (what
  is left of a larger credit is carried to the next invoice), `due_date` = the issue's local
  date + net terms.
"""

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from tally_contracts.accounts import Address, BillingMode, BillingPreferences, InvoicingTerms
from tally_contracts.periods import ZoneSpan, month_bounds, period_key, zone
from tally_contracts.usage import UsageCategory

from tally_invoicing.pricing import card_for, price, round_money

CURRENCY = "USD"
DEFAULT_NET_TERMS_DAYS = 30
"""Net terms of an invoiced account whose state carries no terms (it should never happen)."""
UNIT_PRICE_PLACES = Decimal("0.000001")
ZERO = Decimal("0.00")

_LABELS = {
    UsageCategory.CALLS_INBOUND: "Inbound calls",
    UsageCategory.CALLS_OUTBOUND: "Outbound calls",
    UsageCategory.SMS_INBOUND: "Inbound SMS",
    UsageCategory.SMS_OUTBOUND: "Outbound SMS",
    UsageCategory.PHONE_NUMBERS: "Phone numbers",
}
CATEGORY_ORDER = tuple(_LABELS)
"""Usage lines come in the order of the public price list."""


@dataclass(frozen=True)
class AccountAtClose:
    """What the account's newest state says when its month is closed."""

    account_sid: str
    billing_mode: BillingMode
    terms: InvoicingTerms | None
    billing: BillingPreferences
    zones: Sequence[ZoneSpan]


@dataclass(frozen=True)
class MonthUsage:
    """One category's usage in the month: total quantity, and what the balance paid of it."""

    category: UsageCategory
    quantity: Decimal
    prepaid_amount: Decimal = Decimal(0)


@dataclass(frozen=True)
class LateCharge:
    """A charge rated after its month was invoiced: an adjustment on the next invoice."""

    charge_id: str
    period: str
    category: UsageCategory
    quantity: Decimal
    amount: Decimal
    prepaid: bool


@dataclass(frozen=True)
class Remainder:
    """A frozen prepaid balance or a carried credit (positive: owed to the customer)."""

    freeze_id: str
    remainder: Decimal


CARRIED_CREDIT_PREFIX = "credit:"
"""`freeze_id` of a credit carried from an invoice whose credits exceeded what was due."""


@dataclass(frozen=True)
class Line:
    """One invoice line; `amount` is money, rounded to the cent."""

    kind: str
    description: str
    amount: Decimal
    category: str | None = None
    quantity: Decimal | None = None
    unit: str | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class Invoice:
    """An invoice as issued: immutable from then on."""

    invoice_id: str
    account_sid: str
    month: str
    period: str
    time_zone: str
    period_start: datetime
    period_end: datetime
    billing_mode: BillingMode
    issued_at: datetime
    lines: tuple[Line, ...]
    subtotal: Decimal
    total: Decimal
    prepaid_applied: Decimal
    amount_due: Decimal
    no_balance_due: bool
    due_date: date | None
    po_number: str | None
    billing_address: Address | None
    recipients: tuple[str, ...]
    adjusted_charges: tuple[str, ...] = ()
    settled_remainders: tuple[str, ...] = ()
    carried_credit: Decimal = field(default=Decimal(0))


def invoice_id_for(account_sid: str, month: str) -> str:
    """The invoice's id, derived from (account, month): a second close finds the same one."""
    digest = hashlib.sha256(f"{account_sid}/{month}".encode()).hexdigest()
    return f"IN{digest[:32]}"


@dataclass(frozen=True)
class Period:
    """One account's billing month: its key, zone and UTC bounds (end exclusive)."""

    key: str
    time_zone: str
    start: datetime
    end: datetime


def period_of(zones: Sequence[ZoneSpan], month: str) -> Period:
    """The account's billing period for `month`."""
    time_zone, start, end = month_bounds(zones, month)
    return Period(key=period_key(month, time_zone), time_zone=time_zone, start=start, end=end)


def concluded(period: Period, now: datetime, grace: timedelta) -> bool:
    """Whether the month has ended in its zone and the grace window for late events passed."""
    return period.end + grace <= now


def _usage_line(usage: MonthUsage, terms: InvoicingTerms | None) -> Line:
    card = card_for(terms)
    tiers = card[usage.category].tiers
    unit = card[usage.category].unit
    exact = price(usage.category, usage.quantity, card)
    description = _LABELS[usage.category]
    if len(tiers) == 1:
        unit_price = tiers[0].unit_price
    else:
        unit_price = (
            (exact / usage.quantity).quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_EVEN)
            if usage.quantity
            else tiers[0].unit_price
        )
        steps = ", ".join(f"{t.unit_price} above {t.above:,}" for t in tiers[1:])
        description += f" (graduated: {tiers[0].unit_price} per {unit}, {steps}; average shown)"
    return Line(
        kind="usage",
        category=usage.category.value,
        description=description,
        quantity=usage.quantity,
        unit=unit,
        unit_price=unit_price,
        amount=round_money(exact),
    )


def _late_lines(late: Sequence[LateCharge]) -> list[Line]:
    grouped: dict[tuple[str, UsageCategory], list[LateCharge]] = defaultdict(list)
    for charge in late:
        grouped[(charge.period, charge.category)].append(charge)
    lines = []
    for (period, category), charges in sorted(grouped.items()):
        month, time_zone = period.split("@", 1) if "@" in period else (period, "")
        lines.append(
            Line(
                kind="adjustment",
                category=category.value,
                description=f"Late usage of {month} ({time_zone}): {_LABELS[category]}",
                quantity=sum((c.quantity for c in charges), Decimal(0)),
                unit=category.unit,
                amount=round_money(sum((c.amount for c in charges), Decimal(0))),
            )
        )
    return lines


def _remainder_line(remainder: Remainder) -> Line:
    if remainder.freeze_id.startswith(CARRIED_CREDIT_PREFIX):
        description = "Credit carried from the previous invoice"
    elif remainder.remainder >= 0:
        description = "Prepaid balance remaining at the switch to invoiced (credit)"
    else:
        description = "Prepaid balance owed at the switch to invoiced"
    return Line(
        kind="adjustment", description=description, amount=-round_money(remainder.remainder)
    )


def build_invoice(
    account: AccountAtClose,
    month: str,
    usage: Mapping[UsageCategory, MonthUsage],
    late: Sequence[LateCharge],
    remainders: Sequence[Remainder],
    issued_at: datetime,
) -> Invoice | None:
    """The account's invoice for `month`; None when it has neither usage nor adjustments."""
    if not usage and not late and not remainders:
        return None
    period = period_of(account.zones, month)
    invoiced = account.billing_mode is BillingMode.INVOICED
    terms = account.terms
    lines = [_usage_line(usage[c], terms) for c in CATEGORY_ORDER if c in usage]
    subtotal = sum((line.amount for line in lines), ZERO)
    if terms is not None and terms.discount_percent:
        discount = round_money(subtotal * terms.discount_percent / 100)
        if discount:
            lines.append(
                Line(
                    kind="discount",
                    description=f"Discount {terms.discount_percent}% on usage",
                    amount=-discount,
                )
            )
    lines += _late_lines(late)
    lines += [_remainder_line(r) for r in remainders]
    total = sum((line.amount for line in lines), ZERO)
    paid = sum((u.prepaid_amount for u in usage.values()), Decimal(0))
    paid += sum((c.amount for c in late if c.prepaid), Decimal(0))
    prepaid_applied = round_money(paid) if invoiced else total
    owed = total - prepaid_applied
    due_date = None
    if invoiced:
        net = terms.net_terms_days if terms is not None else DEFAULT_NET_TERMS_DAYS
        due_date = issued_at.astimezone(zone(period.time_zone)).date() + timedelta(days=net)
    return Invoice(
        invoice_id=invoice_id_for(account.account_sid, month),
        account_sid=account.account_sid,
        month=month,
        period=period.key,
        time_zone=period.time_zone,
        period_start=period.start,
        period_end=period.end,
        billing_mode=account.billing_mode,
        issued_at=issued_at,
        lines=tuple(lines),
        subtotal=subtotal,
        total=total,
        prepaid_applied=prepaid_applied,
        amount_due=max(owed, ZERO) if invoiced else ZERO,
        no_balance_due=not invoiced,
        due_date=due_date,
        po_number=account.billing.po_number if invoiced else None,
        billing_address=account.billing.billing_address if invoiced else None,
        recipients=tuple(account.billing.invoice_recipients) if invoiced else (),
        adjusted_charges=tuple(sorted(c.charge_id for c in late)),
        settled_remainders=tuple(r.freeze_id for r in remainders),
        carried_credit=-owed if invoiced and owed < 0 else Decimal(0),
    )
