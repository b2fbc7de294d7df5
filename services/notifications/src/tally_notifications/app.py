"""Notifications' composition root: settings, tracing, database, broker, subscribers, routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.http import health_router
from tally_runtime.kafka import make_broker
from tally_runtime.lifecycle import migrated_database, running_broker
from tally_runtime.problems import install_problem_handlers
from tally_runtime.telemetry import configure_tracing

from tally_notifications.api import router
from tally_notifications.config import NotificationsSettings
from tally_notifications.subscribers import register_subscribers

SERVICE = "notifications"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = [ACCOUNT_STATE_MIGRATIONS]
"""Shared schemas the service keeps, applied before its own `MIGRATIONS`."""


def create_app(settings: NotificationsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The notifications process: HTTP API and Kafka consumers, traced."""
    settings = settings or NotificationsSettings()
    provider = configure_tracing(SERVICE, settings)
    broker = make_broker(SERVICE, settings, provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with migrated_database(settings, MIGRATIONS, projections=PROJECTIONS) as pool:
            register_subscribers(broker, settings=settings, pool=pool, clock=clock)
            async with running_broker(settings, broker, pool):
                app.state.pool = pool
                yield

    app = FastAPI(title="Tally notifications (internal)", lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(health_router)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health")
    return app
