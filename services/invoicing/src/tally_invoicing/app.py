"""Invoicing's composition root: its migrations, subscriptions, payment provider and API."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from tally_runtime.account_states import ACCOUNT_STATE_MIGRATIONS
from tally_runtime.clock import Clock, utc_now
from tally_runtime.service import service_app

from tally_invoicing import api, billing_api, invoices_api
from tally_invoicing.account_profiles import with_account_profiles
from tally_invoicing.charge_guard import AccountsChargeGuard, ChargeGuard
from tally_invoicing.config import InvoicingSettings
from tally_invoicing.payments import provider_named
from tally_invoicing.recharge import recharge_job
from tally_invoicing.scheduler import scheduled_jobs
from tally_invoicing.subscribers import SUBSCRIPTIONS

SERVICE = "invoicing"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
PROJECTIONS = [ACCOUNT_STATE_MIGRATIONS]
"""Shared schemas the service keeps, applied before its own `MIGRATIONS`."""


def create_app(
    settings: InvoicingSettings | None = None,
    *,
    clock: Clock = utc_now,
    charge_guard: ChargeGuard | None = None,
) -> FastAPI:
    """The invoicing process: HTTP API, Kafka consumers, outbox relay and payment provider.

    `charge_guard` (accounts' charge leases, the billing-mode guard) defaults to accounts over
    HTTP at `accounts_url`; a test may hand one over another transport.
    """
    settings = settings or InvoicingSettings()
    provider = provider_named(settings.payment_provider)
    recharges = recharge_job(
        settings.recharge_every_seconds, provider, charge_guard or AccountsChargeGuard(settings)
    )
    router = APIRouter()
    router.include_router(api.router)
    router.include_router(invoices_api.router)
    router.include_router(billing_api.router)  # charge quotes and invoice PDFs
    app = service_app(
        SERVICE,
        settings,
        migrations=MIGRATIONS,
        router=router,
        projections=PROJECTIONS,
        subscriptions=with_account_profiles(SUBSCRIPTIONS),
        periodic=[*scheduled_jobs(settings), recharges],
        clock=clock,
    )
    app.state.payment_provider = provider
    return app
