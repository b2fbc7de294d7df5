"""Invoicing's settings: the shared ones plus its own, read from `TALLY_INVOICING_*`."""

from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import ServiceSettings


class InvoicingSettings(ServiceSettings):
    """Where invoicing listens, stores and consumes; localhost defaults for development."""

    model_config = SettingsConfigDict(env_prefix="TALLY_INVOICING_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_invoicing"
    http_port: int = 8103
    consumer_group: str = "tally-invoicing"
