"""Invoice facts published by invoicing."""

from typing import Literal

from pydantic import Field

from tally_contracts.envelope import Envelope


class MonthClosed(Envelope):
    """Invoicing closed one billing month of the account; usage for it is now late."""

    type: Literal["invoices.month_closed"] = "invoices.month_closed"
    period: str = Field(description="the closed billing period's key, `2026-10@America/Chicago`")
