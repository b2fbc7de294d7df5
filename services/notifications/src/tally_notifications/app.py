"""Notifications' composition root: its migrations, subscriptions and API."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_notifications.api import router
from tally_notifications.config import NotificationsSettings
from tally_notifications.subscribers import SUBSCRIPTIONS

SERVICE = "notifications"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = [ACCOUNT_STATE_MIGRATIONS]
"""Shared schemas the service keeps, applied before its own `MIGRATIONS`."""


def create_app(settings: NotificationsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The notifications process: HTTP API and Kafka consumers, traced."""
    return service_app(
        SERVICE,
        settings or NotificationsSettings(),
        migrations=MIGRATIONS,
        router=router,
        projections=PROJECTIONS,
        subscriptions=SUBSCRIPTIONS,
        clock=clock,
    )
