"""Invoicing's composition root: settings, tracing, database, batch consumer, routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.http import health_router
from tally_runtime.lifecycle import migrated_database, running_engine
from tally_runtime.problems import install_problem_handlers
from tally_runtime.telemetry import configure_tracing

from tally_invoicing.api import router
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.subscribers import SUBSCRIPTIONS

SERVICE = "invoicing"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = [ACCOUNT_STATE_MIGRATIONS]
"""Shared schemas the service keeps, applied before its own `MIGRATIONS`."""


def create_app(settings: InvoicingSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The invoicing process: HTTP API, Kafka consumers and outbox relay, traced."""
    settings = settings or InvoicingSettings()
    provider = configure_tracing(SERVICE, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool,
            running_engine(SERVICE, settings, pool, SUBSCRIPTIONS, clock=clock),
        ):
            app.state.pool = pool
            yield

    app = FastAPI(title="Tally invoicing (internal)", lifespan=lifespan)
    app.state.settings = settings  # the service token its API requires
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(health_router)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health")
    return app
