"""The accounts service's composition root: settings, tracing, database, broker, routes."""

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

from tally_accounts.api import router
from tally_accounts.config import Settings

SERVICE = "accounts"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The accounts service as an ASGI app; its lifespan runs the database and outbox relay."""
    settings = settings or Settings()
    provider = configure_tracing(SERVICE, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Accounts consumes nothing yet; the engine runs for the outbox relay's publishes.
        async with (
            migrated_database(settings, MIGRATIONS) as pool,
            running_engine(SERVICE, settings, pool, clock=clock),
        ):
            app.state.pool = pool
            yield

    app = FastAPI(title="Tally accounts (internal)", lifespan=lifespan)
    app.state.settings = settings  # the service token its API requires
    app.state.clock = clock
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(health_router)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health")
    return app
