"""The number usage report: per phone number, its use in one local month. Pure rules and CSV.

Definitions (CONTRACTS.md §3): every number the account's events named in the local month;
`calls` and `minutes` count call events naming it; `days_used` is the number of distinct local
dates with any event naming it; `first_used` / `last_used` are the first and last of those
local dates; `in_use` means held (a `phone-numbers` event) on today's or yesterday's local date,
whichever month the report is for.
"""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tally_contracts.decimals import plain_decimal
from tally_contracts.usage import NumberType

COLUMNS = (
    "phone_number",
    "number_type",
    "promo",
    "first_used",
    "last_used",
    "days_used",
    "calls",
    "minutes",
    "in_use",
)
"""The report's fields, in order: the JSON objects' keys and the CSV's header row."""


@dataclass(frozen=True)
class NumberUsage:
    """One phone number's use in the month."""

    phone_number: str
    number_type: str | None
    """The type the latest event naming it in the month gave; None if no event gave one."""
    first_used: date
    last_used: date
    days_used: int
    calls: int
    minutes: Decimal
    in_use: bool

    @property
    def promo(self) -> bool:
        """Whether it is a promo number."""
        return self.number_type == NumberType.PROMO.value

    def as_row(self) -> dict[str, str | int | bool | None]:
        """The report's fields of this number, as they go on the wire."""
        return {
            "phone_number": self.phone_number,
            "number_type": self.number_type,
            "promo": self.promo,
            "first_used": self.first_used.isoformat(),
            "last_used": self.last_used.isoformat(),
            "days_used": self.days_used,
            "calls": self.calls,
            "minutes": plain_decimal(self.minutes),
            "in_use": self.in_use,
        }


@dataclass(frozen=True)
class NumberUsageReport:
    """The numbers an account used in one local month, as of `generated_at`."""

    month: str
    time_zone: str
    generated_at: datetime
    numbers: Sequence[NumberUsage]


def _csv_cell(value: str | int | bool | None) -> str | int:
    # JSON's spelling of booleans and of nothing, so both formats read the same.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def report_csv(report: NumberUsageReport) -> str:
    """The report as CSV: a header row of `COLUMNS`, then a row per number (CRLF, RFC 4180)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for number in report.numbers:
        row = number.as_row()
        writer.writerow([_csv_cell(row[column]) for column in COLUMNS])
    return out.getvalue()
