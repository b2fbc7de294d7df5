"""The usage service's composition root: its migrations, subscriptions and API."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_usage.api import router
from tally_usage.config import UsageSettings
from tally_usage.reading import NIGHTLY_SNAPSHOTS
from tally_usage.subscribers import SUBSCRIPTIONS

SERVICE = "usage"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = (ACCOUNT_STATE_MIGRATIONS,)
"""`known_accounts`, the newest state of each account, kept by the engine's projection."""


def create_app(settings: UsageSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The whole service: consuming usage and account facts, relaying its outbox, its API."""
    return service_app(
        SERVICE,
        settings or UsageSettings(),
        migrations=MIGRATIONS,
        projections=PROJECTIONS,
        router=router,
        subscriptions=SUBSCRIPTIONS,
        periodic=[NIGHTLY_SNAPSHOTS],
        clock=clock,
    )
