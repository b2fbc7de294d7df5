"""Invoicing's settings: the shared ones plus its own, read from `TALLY_INVOICING_*`."""

from datetime import timedelta
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    """Where invoicing listens, stores and consumes; localhost defaults for development."""

    model_config = SettingsConfigDict(env_prefix="TALLY_INVOICING_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_invoicing"
    http_port: int = 8103
    consumer_group: str = "tally-invoicing"
    payment_provider: Literal["development"] = Field(
        "development",
        description="the card processor behind the payment port; `development` approves every"
        " `tok_…` token but `tok_decline` and moves no money, so production refuses it",
    )
    accounts_url: str = Field(
        "http://127.0.0.1:8101",
        description="accounts' internal API: the charge lease an auto-recharge needs first",
    )
    accounts_timeout_seconds: float = Field(10.0, gt=0)
    charge_lease_seconds: int = Field(
        30, ge=5, le=120, description="how long a card charge may take under its lease"
    )
    recharge_every_seconds: float = Field(
        2.0, gt=0, description="how often pending auto-recharges are executed"
    )
    allow_development_payments: bool = Field(
        False,
        description="let a production-mode process use the development provider anyway: for"
        " demonstration stacks (docker compose) only, never with real customers",
    )

    month_close_grace: timedelta = Field(
        timedelta(hours=6),
        description="how long after an account's local month ends its late events are still"
        " waited for before the month is closed (ISO 8601 duration or seconds)",
    )
    month_close_every: timedelta = Field(
        timedelta(minutes=5), description="how often the scheduler looks for months to close"
    )
    month_close_chunk: int = Field(
        2000, ge=1, description="accounts per transaction of the month close"
    )
    overdue_scan_every: timedelta = Field(
        timedelta(minutes=15), description="how often the scheduler scans for overdue invoices"
    )
    scheduler_enabled: bool = Field(
        True, description="run the month close and overdue scan by themselves in this process"
    )

    @model_validator(mode="after")
    def _no_development_provider_in_production(self) -> Self:
        if (
            self.environment == "production"
            and self.payment_provider == "development"
            and not self.allow_development_payments
        ):
            raise ValueError(
                "the development payment provider charges no card; production needs a real"
                " one (TALLY_INVOICING_PAYMENT_PROVIDER)"
            )
        return self
