"""The usage service's composition root: settings, tracing, database, batch consumer, routes."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from tally_runtime.clock import Clock, utc_now
from tally_runtime.http import health_router
from tally_runtime.lifecycle import migrated_database, running_engine
from tally_runtime.problems import install_problem_handlers
from tally_runtime.telemetry import configure_tracing

from tally_usage.api import router
from tally_usage.config import UsageSettings
from tally_usage.subscribers import SUBSCRIPTIONS

SERVICE = "usage"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: UsageSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The whole service: consuming `usage.events.v1`, relaying its outbox, serving its API."""
    settings = settings or UsageSettings()
    provider = configure_tracing(SERVICE, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            migrated_database(settings, MIGRATIONS) as pool,
            running_engine(SERVICE, settings, pool, SUBSCRIPTIONS, clock=clock),
        ):
            app.state.pool = pool
            yield

    app = FastAPI(title="Tally usage (internal)", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(router)
    app.include_router(health_router)
    install_problem_handlers(app)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health")
    return app
