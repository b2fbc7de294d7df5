"""The usage service's settings: `TALLY_USAGE_*` variables, localhost defaults."""

from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import ServiceSettings


class UsageSettings(ServiceSettings):
    """Where the usage service listens, which database it owns and which group it consumes in."""

    model_config = SettingsConfigDict(env_prefix="TALLY_USAGE_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_usage"
    http_port: int = 8102
    consumer_group: str = "tally-usage"
