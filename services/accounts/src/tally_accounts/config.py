"""The accounts service's settings: `TALLY_ACCOUNTS_*`, localhost defaults."""

from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    """Where the accounts service listens and keeps its data."""

    model_config = SettingsConfigDict(env_prefix="TALLY_ACCOUNTS_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_accounts"
    http_port: int = 8101
    consumer_group: str = "tally-accounts"
