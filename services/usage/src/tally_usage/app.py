"""The usage service's composition root: its migrations, subscriptions and API."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_usage.api import router
from tally_usage.config import UsageSettings
from tally_usage.subscribers import SUBSCRIPTIONS

SERVICE = "usage"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: UsageSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The whole service: consuming `usage.events.v1`, relaying its outbox, serving its API."""
    return service_app(
        SERVICE,
        settings or UsageSettings(),
        migrations=MIGRATIONS,
        router=router,
        subscriptions=SUBSCRIPTIONS,
        clock=clock,
    )
