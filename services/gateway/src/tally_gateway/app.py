"""The gateway's composition root: settings, tracing, database, producer, HTTP client, routes."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from tally_runtime.clock import Clock, utc_now
from tally_runtime.http import SERVICE_TOKEN_HEADER, health_router
from tally_runtime.lifecycle import migrated_database
from tally_runtime.metrics import CountRequests, metrics_router
from tally_runtime.problems import install_problem_handlers
from tally_runtime.telemetry import configure_tracing

from tally_gateway.accounts_client import AccountsClient
from tally_gateway.api import router
from tally_gateway.config import Settings
from tally_gateway.dependencies import ops_caller
from tally_gateway.idempotency import install_idempotency
from tally_gateway.limits import LimitBodySize
from tally_gateway.rate_limits import RateLimits
from tally_gateway.upstream import ServiceClient
from tally_gateway.usage_producer import UsagePublisher, running_producers
from tally_gateway.web import install as install_billing_page

SERVICE = "gateway"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The gateway as an ASGI app; its lifespan opens the database, producer and upstream client."""
    settings = settings or Settings()
    provider = configure_tracing(SERVICE, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            migrated_database(settings, MIGRATIONS) as pool,
            running_producers(settings) as producers,
            contextlib.AsyncExitStack() as upstreams,
        ):
            app.state.pool = pool
            app.state.usage_publisher = UsagePublisher(
                producers, provider.get_tracer(__name__), ack_timeout=settings.ack_timeout_seconds
            )
            http = {
                name: await upstreams.enter_async_context(_upstream_http(url, settings, provider))
                for name, url in (
                    ("accounts", settings.accounts_url),
                    ("usage", settings.usage_url),
                    ("invoicing", settings.invoicing_url),
                    ("notifications", settings.notifications_url),
                )
            }
            app.state.accounts = AccountsClient(http["accounts"])
            app.state.services = {
                name: ServiceClient(name, client) for name, client in http.items()
            }
            yield

    app = FastAPI(
        title="Tally",
        version="1",
        description="Usage billing: the public REST API (`/v1`).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.rate_limits = RateLimits(settings.rate_limit)
    install_problem_handlers(app)
    app.add_middleware(LimitBodySize, max_bytes=settings.max_body_bytes)
    install_idempotency(app)
    app.include_router(router)
    install_billing_page(app, settings)
    app.include_router(health_router)
    # The public port: Prometheus scrapes with the ops key (README, "Observability").
    app.include_router(metrics_router(ops_caller))
    app.add_middleware(CountRequests)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="/health,/metrics"
    )
    return app


def _upstream_http(url: str, settings: Settings, provider: TracerProvider) -> httpx.AsyncClient:
    """A client of one service's internal API: its token, its timeout, the trace carried on."""
    client = httpx.AsyncClient(
        base_url=url,
        timeout=settings.upstream_timeout_seconds,
        headers={SERVICE_TOKEN_HEADER: settings.service_token.get_secret_value()},
    )
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
    return client
