"""The subject and template variables of a notification (pure): what delivery renders.

Amounts are decimal strings to the cent with their currency; instants are local dates in the
account's time zone (CONTRACTS.md §3 conventions).
"""

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tally_notifications.policy import Kind
from tally_notifications.triggers import Trigger, parsed

if TYPE_CHECKING:
    from tally_notifications.domain import AccountView

SUBJECTS: dict[Kind, str] = {
    Kind.RECHARGE_REMINDER: "Your Tally balance is low: {balance} {currency}",
    Kind.CARD_CHARGED: "Your card was charged {amount} {currency} to recharge your balance",
    Kind.CARD_DECLINED: "Your card was declined for a {amount} {currency} recharge",
    Kind.SUSPENSION_WARNING: "Your Tally balance is used up: {balance} {currency}",
    Kind.ACCOUNT_SUSPENDED: "Your Tally account is suspended",
    Kind.ACCOUNT_REACTIVATED: "Your Tally account is active again",
    Kind.INVOICE_ISSUED: "Your Tally invoice for {period}: {total} {currency}",
    Kind.INVOICE_OVERDUE: "Your Tally invoice for {period} is overdue: {amount_due} {currency}",
    Kind.UPGRADE_COMPLETED: "Your Tally account is upgraded",
    Kind.CREDIT_CHECK_INFORMATION_REQUESTED: "Tally needs more information for your credit check",
    Kind.CREDIT_EXPOSURE: "Account {account_sid} reached {percent}% of its credit limit",
}

_CENT = Decimal("0.01")

DATED_AS: dict[Kind, str] = {
    Kind.RECHARGE_REMINDER: "as_of",
    Kind.SUSPENSION_WARNING: "as_of",
    Kind.CREDIT_EXPOSURE: "as_of",
    Kind.CARD_CHARGED: "charged_on",
    Kind.CARD_DECLINED: "declined_on",
    Kind.ACCOUNT_SUSPENDED: "suspended_on",
    Kind.ACCOUNT_REACTIVATED: "reactivated_on",
    Kind.UPGRADE_COMPLETED: "completed_on",
    Kind.INVOICE_ISSUED: "issued_on",
    Kind.INVOICE_OVERDUE: "as_of",
}
"""The name each kind's template gives the local date of its fact."""


def message(trigger: Trigger, account: "AccountView") -> tuple[str, dict[str, Any]]:
    """The subject and template variables of the notification `trigger` asks for."""
    zone = ZoneInfo(account.time_zone)
    event = parsed(trigger.payload)
    body: dict[str, Any] = {"kind": str(trigger.kind), "time_zone": account.time_zone}
    for name in type(event).model_fields:
        if name in ("type", "version"):
            continue
        body[name] = _shown(getattr(event, name), zone)
    body["occurred_on"] = body.pop("occurred_at")
    if trigger.kind in DATED_AS:
        body[DATED_AS[trigger.kind]] = body["occurred_on"]
    if "period" in body:  # `2026-10@America/Chicago`: the month, in the account's zone
        body["month"] = str(body["period"]).split("@", 1)[0]
    if "items" in body:
        body["details"] = "; ".join(body["items"])
    return SUBJECTS[trigger.kind].format_map(_Lenient(body)), body


def _shown(value: object, zone: ZoneInfo) -> Any:
    if isinstance(value, Decimal):
        return format(value.quantize(_CENT, rounding=ROUND_HALF_EVEN), "f")
    if isinstance(value, datetime):
        return value.astimezone(zone).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_shown(item, zone) for item in value]
    if hasattr(value, "value"):  # an enum
        return value.value
    return value


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""
