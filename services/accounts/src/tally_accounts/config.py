"""The accounts service's settings: `TALLY_ACCOUNTS_*`, localhost defaults."""

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import PLACEHOLDER_SECRET, ServiceSettings

from tally_accounts.invoicing_requests.crypto import CreditCheckCipher


class Settings(ServiceSettings):
    """Where the accounts service listens and keeps its data, and whom it asks for money."""

    model_config = SettingsConfigDict(env_prefix="TALLY_ACCOUNTS_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_accounts"
    http_port: int = 8101
    consumer_group: str = "tally-accounts"
    invoicing_url: str = Field(
        "http://127.0.0.1:8103", description="invoicing's internal API: top-ups, card checks"
    )
    invoicing_timeout_seconds: float = Field(10.0, gt=0)
    suspension_grace_hours: float = Field(
        72.0, ge=0, description="how long a prepaid balance may stay at or below zero"
    )
    suspension_check_seconds: float = Field(
        60.0, gt=0, description="how often the suspension timer looks for expired grace periods"
    )
    credit_check_keys: SecretStr = Field(
        SecretStr(PLACEHOLDER_SECRET),
        description="comma-separated Fernet keys sealing credit-check data: the first seals new"
        " writes, every one opens what is stored (rotation); the placeholder only in development",
    )

    @model_validator(mode="after")
    def _credit_check_keys_usable(self) -> Self:
        # Raises CreditCheckKeysInvalid, naming the bad key by position, never by value.
        CreditCheckCipher(self.credit_check_keys.get_secret_value(), environment=self.environment)
        return self
