"""The gateway's settings: `TALLY_GATEWAY_*`, localhost defaults."""

from limits import parse
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import PLACEHOLDER_SECRET, ServiceSettings


class Settings(ServiceSettings):
    """Where the gateway listens, the services it reads from, and its secrets."""

    model_config = SettingsConfigDict(env_prefix="TALLY_GATEWAY_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_gateway"
    http_port: int = 8000
    accounts_url: str = "http://127.0.0.1:8101"
    usage_url: str = "http://127.0.0.1:8102"
    invoicing_url: str = "http://127.0.0.1:8103"
    notifications_url: str = "http://127.0.0.1:8104"
    upstream_timeout_seconds: float = 10.0
    ack_timeout_seconds: float = Field(
        5.0, gt=0, description="how long a usage request waits for Kafka's acks before a 503"
    )
    kafka_linger_ms: int = Field(
        5, ge=0, description="how long the producer gathers records before sending a batch"
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, gt=0, description="larger request bodies are refused (413) unread"
    )
    rate_limit: str = Field(
        "1000/second",
        description="requests per account (and for the ops key) in each gateway replica, as"
        " `limits` parses it (`100/minute`, `10/second`); past it a `429` with `Retry-After`",
    )
    ops_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    """The bearer key of ops endpoints (`Authorization: Bearer <ops key>`)."""
    token_pepper: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    """The HMAC key auth tokens are hashed with; changing it invalidates every token."""
    session_secret: SecretStr | None = None
    """The key that signs the billing page's session cookies; unset, one derived from
    `token_pepper` (a separate key, so neither can be learned from the other's use)."""

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        parse(value)  # a ValueError saying what is wrong, at startup
        return value
