"""Everything the billing page shows, read through the same code the JSON API uses.

The page is one more face of the `/v1` reads: each section comes from the function that
answers its JSON route, always for the session's own account, never for a SID from the URL.
"""

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from tally_gateway import billing_reads, handlers, usage_reads
from tally_gateway.accounts_client import AccountsClient, UpstreamAccount
from tally_gateway.api import balance, billing_settings, invoices, notifications, upgrade
from tally_gateway.schemas import AutoRechargePublic, BillingPreferences, UpgradeOptions
from tally_gateway.schemas_balance import BalancePublic
from tally_gateway.schemas_money import BillingPage, Invoice, InvoiceSummary
from tally_gateway.schemas_notifications import NotificationPublic
from tally_gateway.schemas_usage import NumberUsageReport
from tally_gateway.upstream import ServiceClient
from tally_gateway.web.chart import Chart, daily_chart

MONTHS_OFFERED = 13
"""The month selector offers the current local month and the twelve before it."""


class DayUsage(BaseModel):
    local_date: date
    category: str
    quantity: Decimal


class DailyUsage(BaseModel):
    """Usage's answer: a month's quantities per local day, through its latest snapshot."""

    month: str
    through: date | None
    days: list[DayUsage]


@dataclass(frozen=True)
class Upstreams:
    """The clients of the services behind the gateway, as app.py built them."""

    accounts: AccountsClient
    accounts_api: ServiceClient
    usage: ServiceClient
    invoicing: ServiceClient
    notifications: ServiceClient


@dataclass(frozen=True)
class BillingView:
    """One local month of the signed-in account's billing, every section of the page."""

    account: UpstreamAccount
    current_month: str
    months: list[str]
    billing: BillingPage
    invoice: Invoice | None
    invoices: list[InvoiceSummary]
    report: NumberUsageReport
    notifications: list[NotificationPublic]
    preferences: BillingPreferences
    balance: BalancePublic | None
    auto_recharge: AutoRechargePublic | None
    charts: list[Chart]

    @property
    def prepaid(self) -> bool:
        """Trial and pay-as-you-go accounts have a balance; invoiced ones are billed instead."""
        return self.account.billing_mode != "invoiced"


def local_month(time_zone: str, now: datetime) -> str:
    """`YYYY-MM` of `now` in the account's time zone."""
    return now.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m")


def months_before(month: str, count: int) -> list[str]:
    """`month` and the `count - 1` months before it, newest first."""
    year, number = (int(part) for part in month.split("-"))
    offered = []
    for _ in range(count):
        offered.append(f"{year:04d}-{number:02d}")
        year, number = (year, number - 1) if number > 1 else (year - 1, 12)
    return offered


async def billing_view(
    sid: str, month: str | None, *, upstreams: Upstreams, now: datetime
) -> BillingView:
    """Read every section of the page for `month` (default: the current local month)."""
    account = await handlers.read_account(sid, accounts=upstreams.accounts)
    prepaid = account.billing_mode != "invoiced"
    usage_sections = asyncio.gather(
        billing_reads.billing_page(
            sid, month, usage=upstreams.usage, invoicing=upstreams.invoicing, now=now
        ),
        _daily_usage(sid, month, upstreams.usage),
        usage_reads.number_usage_report(sid, month, usage=upstreams.usage),
    )
    account_sections = asyncio.gather(
        invoices.list_invoices(sid, upstreams.invoicing),
        notifications.list_notifications(sid, upstreams.notifications),
        billing_settings.billing_preferences(sid, upstreams.accounts_api),
        _prepaid_money(sid, upstreams) if prepaid else _nothing(),
    )
    (page, daily, report), (listed, decided, preferences, money) = await asyncio.gather(
        usage_sections, account_sections
    )
    invoice = (
        await billing_reads.invoice(sid, page.invoice.invoice_id, invoicing=upstreams.invoicing)
        if page.invoice
        else None
    )
    current = local_month(account.time_zone, now)
    offered = months_before(current, MONTHS_OFFERED)
    return BillingView(
        account=account,
        current_month=current,
        months=offered if page.month in offered else [*offered, page.month],
        billing=page,
        invoice=invoice,
        invoices=listed.invoices,
        report=report,
        notifications=decided.notifications,
        preferences=preferences,
        balance=money[0] if money else None,
        auto_recharge=money[1] if money else None,
        charts=daily_charts(page, daily),
    )


def month_days(month: str) -> list[date]:
    """Every local date of `YYYY-MM`."""
    first = date.fromisoformat(f"{month}-01")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return [first + timedelta(days=offset) for offset in range((following - first).days)]


def daily_charts(page: BillingPage, daily: DailyUsage) -> list[Chart]:
    """A chart per category the month used, over every day of the month, in the page's order."""
    by_category: dict[str, dict[date, Decimal]] = {}
    for day in daily.days:
        by_category.setdefault(day.category, {})[day.local_date] = day.quantity
    days = month_days(page.month)
    return [
        daily_chart(line.category, line.unit, days, by_category[line.category])
        for line in page.usage
        if line.category in by_category
    ]


async def upgrade_options(sid: str, *, upstreams: Upstreams) -> UpgradeOptions:
    """Eligibility for pay by invoice, the owner's addresses and the methods on offer."""
    return await upgrade.upgrade_options(sid, upstreams.accounts_api)


async def _daily_usage(sid: str, month: str | None, usage: ServiceClient) -> DailyUsage:
    params = {"month": month} if month else None
    return await usage.call(DailyUsage, "GET", f"/accounts/{sid}/daily-usage", params=params)


async def _prepaid_money(
    sid: str, upstreams: Upstreams
) -> tuple[BalancePublic, AutoRechargePublic]:
    return await asyncio.gather(
        balance.get_balance(sid, upstreams.invoicing),
        billing_settings.auto_recharge(sid, upstreams.accounts_api),
    )


async def _nothing() -> None:
    return None
