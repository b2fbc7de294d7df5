"""The bodies of the notifications route (CONTRACTS.md §3, Notifications)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class NotificationPublic(BaseModel):
    """One decision about one notification: sent, suppressed, deferred or failed, and why."""

    notification_id: str
    kind: str = Field(description="`recharge_reminder`, `card_charged`, ... (CONTRACTS.md §3)")
    decision: Literal["sent", "suppressed", "deferred", "failed"]
    reason: str = Field(description="why, in words support can read back; names the rule")
    billing_mode: Literal["trial", "pay_as_you_go", "invoiced"] | None = Field(
        description="the account's mode when it was decided; null while deferred on a state"
        " not known yet"
    )
    channels: list[Literal["email", "webhook"]]
    decided_at: datetime
    trigger_event_id: str = Field(description="the event that asked for the decision")


class NotificationsPublic(BaseModel):
    """`GET /v1/Accounts/{sid}/Notifications`."""

    notifications: list[NotificationPublic] = Field(description="newest first")
