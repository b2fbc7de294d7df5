"""Rendering the billing page's HTML: the templates, their filters, the headers every page gets.

Times are shown in the account's time zone and money to the cent, as the API words them.
"""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

SECURITY_HEADERS = {
    # Everything the page uses is served by the gateway itself: no inline script or style.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; form-action 'self';"
    " base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # an account's figures are nobody else's to keep
}


def in_zone(instant: datetime, time_zone: str) -> str:
    """An instant as the account's local date and time, with the zone's abbreviation."""
    return instant.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M %Z")


def month_name(month: str) -> str:
    """`2026-10` as `October 2026`."""
    return date.fromisoformat(f"{month}-01").strftime("%B %Y")


def usd(amount: Decimal) -> str:
    """Money as the API writes it, with the currency: `$12.50`, `-$3.00`."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def quantity(value: Decimal | str) -> str:
    """A quantity without trailing zeros, grouped by thousands: `12,000`, `1,234.5`."""
    return format(Decimal(value).normalize(), ",f")


def words(name: str) -> str:
    """A contract's name for people: `pay_as_you_go` as `pay as you go`."""
    return name.replace("_", " ")


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(
    in_zone=in_zone, month_name=month_name, usd=usd, quantity=quantity, words=words
)


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """A template rendered for the request, with the page's security headers."""
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
