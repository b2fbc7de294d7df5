"""The gateway's composition root: settings, tracing, database, broker, HTTP client, routes."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from tally_runtime.clock import Clock, utc_now
from tally_runtime.http import health_router
from tally_runtime.kafka import make_broker
from tally_runtime.lifecycle import migrated_database, running_broker
from tally_runtime.problems import install_problem_handlers
from tally_runtime.telemetry import configure_tracing

from tally_gateway.accounts_client import AccountsClient
from tally_gateway.api import router
from tally_gateway.config import Settings

SERVICE = "gateway"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The gateway as an ASGI app; its lifespan opens the database, broker and upstream client."""
    settings = settings or Settings()
    provider = configure_tracing(SERVICE, settings)
    broker = make_broker(SERVICE, settings, provider)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            migrated_database(settings, MIGRATIONS) as pool,
            running_broker(settings, broker),  # a producer only: no consumers, no outbox
            httpx.AsyncClient(
                base_url=settings.accounts_url, timeout=settings.upstream_timeout_seconds
            ) as accounts_http,
        ):
            # Instrumented so each call carries the trace into the accounts service.
            HTTPXClientInstrumentor.instrument_client(accounts_http, tracer_provider=provider)
            app.state.pool = pool
            app.state.broker = broker
            app.state.accounts = AccountsClient(accounts_http)
            yield

    app = FastAPI(
        title="Tally",
        version="1",
        description="Usage billing: the public REST API (`/v1`).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(health_router)
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health")
    return app
