"""Notifications' composition root: its migrations, subscriptions, periodic jobs and API."""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI
from tally_runtime.clock import Clock, utc_now
from tally_runtime.metrics import NOTIFICATION_DECISIONS, SampledGauge
from tally_runtime.periodic import Periodic
from tally_runtime.service import service_app

from tally_notifications import api
from tally_notifications.config import NotificationsSettings
from tally_notifications.delivery import api as delivery_api
from tally_notifications.delivery.worker import delivery_job
from tally_notifications.freshness import KafkaEndOffsets
from tally_notifications.handlers import Deciding
from tally_notifications.subscribers import subscriptions

SERVICE = "notifications"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS: list[Path] = []
"""Shared schemas the service keeps: none, it projects account states itself (with offsets)."""

DECISIONS_FOR_OPS = SampledGauge(
    NOTIFICATION_DECISIONS,
    "SELECT outcome, (SELECT count(*) FROM decisions d WHERE d.outcome = o.outcome)"
    " FROM unnest(ARRAY['deferred', 'suppressed']) AS o(outcome)",
)
"""What ops watch in /metrics: decisions waiting (deferred) and customers spared (suppressed)."""


def create_app(settings: NotificationsSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    """The notifications process: HTTP API, Kafka consumers, deciding and delivery, traced."""
    settings = settings or NotificationsSettings()
    end_offsets = KafkaEndOffsets(settings.kafka_bootstrap)
    deciding = Deciding(end_offsets, tuple(settings.ops_emails))
    redecide = Periodic(
        "redecide-deferred",
        timedelta(seconds=settings.redecide_every_seconds),
        deciding.redecide_deferred,
    )
    router = APIRouter()
    router.include_router(api.router)
    router.include_router(delivery_api.router)
    app = service_app(
        SERVICE,
        settings,
        migrations=MIGRATIONS,
        router=router,
        projections=PROJECTIONS,
        subscriptions=subscriptions(deciding),
        periodic=[redecide, *([delivery_job(settings)] if settings.delivery_enabled else [])],
        gauges=[DECISIONS_FOR_OPS],
        clock=clock,
    )
    app.state.deciding = deciding
    serving = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The barrier's Kafka client outlives the engine that uses it, and is closed after it.
        try:
            async with serving(app):
                yield
        finally:
            await end_offsets.close()

    app.router.lifespan_context = lifespan
    return app
