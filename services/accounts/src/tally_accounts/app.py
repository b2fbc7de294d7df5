"""The accounts service's composition root: its migrations and API."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_accounts.api import router
from tally_accounts.config import Settings

SERVICE = "accounts"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The accounts service; it consumes nothing yet, and the engine relays its outbox."""
    return service_app(
        SERVICE,
        settings or Settings(),
        migrations=MIGRATIONS,
        router=router,
        clock=clock,
    )
