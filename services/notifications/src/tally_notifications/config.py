"""Notifications' settings: the shared ones plus its own, read from `TALLY_NOTIFICATIONS_*`."""

from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    """Where notifications listens, stores and consumes; localhost defaults for development."""

    model_config = SettingsConfigDict(env_prefix="TALLY_NOTIFICATIONS_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_notifications"
    http_port: int = 8104
    consumer_group: str = "tally-notifications"
