"""One message-driven service as one ASGI app: the sequence every composition root shares."""

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from tally_runtime.clock import Clock, utc_now
from tally_runtime.consumer import Subscription
from tally_runtime.http import health_router
from tally_runtime.lifecycle import migrated_database, running_engine
from tally_runtime.metrics import RUNTIME_GAUGES, SampledGauge, metrics_router, sampling_job
from tally_runtime.parked_api import parked_router
from tally_runtime.periodic import Periodic
from tally_runtime.problems import install_problem_handlers
from tally_runtime.settings import ServiceSettings
from tally_runtime.telemetry import configure_tracing


def service_app(
    name: str,
    settings: ServiceSettings,
    *,
    migrations: Path,
    router: APIRouter,
    projections: Sequence[Path] = (),
    subscriptions: Sequence[Subscription] = (),
    periodic: Sequence[Periodic] = (),
    gauges: Sequence[SampledGauge] = (),
    clock: Clock = utc_now,
) -> FastAPI:
    """The service `name`: tracing, its database migrated, the engine running, its API served.

    The engine relays the service's outbox and, given `subscriptions`, consumes their topics;
    `periodic` jobs run in every replica (each is safe to run concurrently).
    `/metrics` serves the engine's metrics and `gauges`, the service's own sampled ones.
    The API finds the pool, settings (for the service token) and clock on `app.state`.
    """
    provider = configure_tracing(name, settings)
    periodic = [*periodic, sampling_job([*RUNTIME_GAUGES, *gauges])]

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            migrated_database(settings, migrations, projections=projections) as pool,
            running_engine(name, settings, pool, subscriptions, periodic=periodic, clock=clock),
        ):
            app.state.pool = pool
            yield

    app = FastAPI(title=f"Tally {name} (internal)", lifespan=lifespan)
    app.state.settings = settings
    app.state.clock = clock
    install_problem_handlers(app)
    app.include_router(router)
    app.include_router(health_router)
    app.include_router(metrics_router())  # internal port, like /health: no token to scrape
    app.include_router(parked_router)  # ops reach it through the gateway
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="/health,/metrics"
    )
    return app
