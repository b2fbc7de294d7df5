"""Invoicing's composition root: its migrations, subscriptions, payment provider and API."""

from pathlib import Path

from fastapi import FastAPI
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_invoicing.api import router
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.payments import provider_named
from tally_invoicing.subscribers import SUBSCRIPTIONS

SERVICE = "invoicing"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = [ACCOUNT_STATE_MIGRATIONS]
"""Shared schemas the service keeps, applied before its own `MIGRATIONS`."""


def create_app(settings: InvoicingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The invoicing process: HTTP API, Kafka consumers, outbox relay and payment provider."""
    settings = settings or InvoicingSettings()
    app = service_app(
        SERVICE,
        settings,
        migrations=MIGRATIONS,
        router=router,
        projections=PROJECTIONS,
        subscriptions=SUBSCRIPTIONS,
        clock=clock,
    )
    app.state.payment_provider = provider_named(settings.payment_provider)
    return app
