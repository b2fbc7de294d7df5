"""Invoicing's settings: the shared ones plus its own, read from `TALLY_INVOICING_*`."""

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
    allow_development_payments: bool = Field(
        False,
        description="let a production-mode process use the development provider anyway: for"
        " demonstration stacks (docker compose) only, never with real customers",
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
