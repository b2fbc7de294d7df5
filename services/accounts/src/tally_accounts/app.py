"""The accounts service's composition root: its migrations, API, subscriptions and timer."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_accounts.api import router
from tally_accounts.config import Settings
from tally_accounts.invoicing_requests import api as invoicing_requests
from tally_accounts.subscribers import SUBSCRIPTIONS
from tally_accounts.suspension import suspension_timer

SERVICE = "accounts"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

router.include_router(invoicing_requests.router)


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The accounts service: its API, invoicing's balance facts, the suspension timer."""
    settings = settings or Settings()
    return service_app(
        SERVICE,
        settings,
        migrations=MIGRATIONS,
        router=router,
        subscriptions=SUBSCRIPTIONS,
        periodic=[suspension_timer(settings)],
        clock=clock,
    )
