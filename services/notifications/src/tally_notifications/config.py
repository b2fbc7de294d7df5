"""Notifications' settings: the shared ones plus its own, read from `TALLY_NOTIFICATIONS_*`."""

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import PLACEHOLDER_SECRET, ServiceSettings

from tally_notifications.delivery.secrets import WebhookSecretCipher


class NotificationsSettings(ServiceSettings):
    """Where notifications listens, stores and consumes; localhost defaults for development."""

    model_config = SettingsConfigDict(env_prefix="TALLY_NOTIFICATIONS_")

    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally_notifications"
    http_port: int = 8104
    consumer_group: str = "tally-notifications"

    # --- delivery: e-mail over SMTP, signed webhooks, retries, the per-account rate limit ---
    smtp_host: str = Field("127.0.0.1", description="the SMTP relay e-mail is handed to")
    smtp_port: int = Field(
        11025, description="the relay's port; 11025 is `make up`'s local mail server"
    )
    smtp_tls: Literal["off", "starttls", "tls"] = Field(
        "off", description="`off` for the local server; `starttls` or `tls` for a real relay"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Tally <notifications@tally.localhost>"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="connect and read timeout of one webhook POST"
    )
    webhook_secret_keys: SecretStr = Field(
        SecretStr(PLACEHOLDER_SECRET),
        description="comma-separated Fernet keys sealing the accounts' webhook secrets: the first"
        " seals new ones, every one opens what is stored; the placeholder only in development",
    )
    webhook_private_addresses: bool | None = Field(
        None,
        description="let webhooks go to loopback, private and link-local addresses; unset:"
        " allowed in development and test (a local receiver), refused otherwise (delivery/"
        "destinations.py: a customer's URL must not reach Tally's own network)",
    )
    delivery_enabled: bool = Field(
        True,
        description="run the delivery worker in this replica; off for one that only decides"
        " (and in tests of deciding alone, so nothing is sent to their made-up addresses)",
    )
    delivery_poll_seconds: float = Field(
        1.0, gt=0, description="how often each replica looks for deliveries that are due"
    )
    delivery_batch_size: int = Field(20, gt=0, description="deliveries claimed and sent at once")
    delivery_max_attempts: int = Field(8, gt=0, description="tries before a delivery fails")
    delivery_backoff_initial_seconds: float = Field(
        30.0, gt=0, description="the first retry's longest wait; it doubles with every attempt"
    )
    delivery_backoff_max_seconds: float = Field(3600.0, gt=0)
    delivery_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="how long a claimed delivery is left to its worker before another one may"
        " take it over (the claimer died); well above the send timeouts",
    )
    accounts_url: str = Field(
        "http://127.0.0.1:8101",
        description="the accounts service's internal API, asked for an account's committed"
        " billing mode right before a prepaid-only kind is sent",
    )
    accounts_timeout_seconds: float = Field(
        2.0, gt=0, description="how long that question may take; no answer postpones the send"
    )
    notifications_per_hour: int = Field(
        20,
        gt=0,
        description="per account and channel: a burst of this many, then this many an hour;"
        " the excess waits, nothing is dropped",
    )

    # --- deciding: the ops contacts, and how often deferred decisions are taken again ---
    ops_emails: list[str] = Field(
        default_factory=list,
        description="who hears of an invoiced account's credit exposure (never the customer)",
    )
    redecide_every_seconds: float = Field(
        1.0, gt=0, description="how often deferred decisions are taken again"
    )

    @model_validator(mode="after")
    def _webhook_secret_keys_usable(self) -> Self:
        # Raises WebhookSecretKeysInvalid, naming a bad key by position, never by value.
        self.webhook_cipher()
        return self

    @property
    def private_webhooks_allowed(self) -> bool:
        """`webhook_private_addresses`, or its default for the environment."""
        if self.webhook_private_addresses is not None:
            return self.webhook_private_addresses
        return self.environment in ("development", "test")

    def webhook_cipher(self) -> WebhookSecretCipher:
        """The cipher that seals and opens the accounts' webhook secrets."""
        return WebhookSecretCipher(
            self.webhook_secret_keys.get_secret_value(), environment=self.environment
        )
