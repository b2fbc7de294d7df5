"""The settings every Tally process shares; each service subclasses them with its own prefix."""

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "development-only-placeholder-secret"  # noqa: S105 - refused elsewhere

Environment = Literal["development", "test", "production"]


class ServiceSettings(BaseSettings):
    """Broker, database, telemetry and safety settings; localhost defaults for development.

    Shared infrastructure is read from unprefixed variables (`KAFKA_BOOTSTRAP`,
    `TALLY_ENVIRONMENT`, `TALLY_TRACE_DIR`) so one export points every service at it.
    """

    # Errors never echo the input: it holds secrets (keys, tokens, passwords in URLs).
    model_config = SettingsConfigDict(
        populate_by_name=True, extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Field(
        "development", validation_alias=AliasChoices("TALLY_ENVIRONMENT", "environment")
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "kafka_bootstrap")
    )
    kafka_replication_factor: int = Field(
        1,
        validation_alias=AliasChoices("KAFKA_REPLICATION_FACTOR", "kafka_replication_factor"),
    )
    trace_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("TALLY_TRACE_DIR", "trace_dir"),
        description="write finished spans as JSON lines to <trace_dir>/<service>.jsonl",
    )
    service_token: SecretStr = Field(
        SecretStr(PLACEHOLDER_SECRET),
        validation_alias=AliasChoices("TALLY_SERVICE_TOKEN", "service_token"),
        description="the token every internal HTTP API requires of its callers; shared by all",
    )
    database_url: str = "postgresql://tally:tally@127.0.0.1:15432/tally"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    consumer_group: str = "tally"
    failpoint: str | None = Field(
        None,
        description="crash with SIGKILL at this named point (`after-db-commit:<topic>`);"
        " for crash-recovery tests",
    )
    trace_sample_ratio: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("TALLY_TRACE_SAMPLE_RATIO", "trace_sample_ratio"),
        description="share of new traces recorded; spans of a sampled parent always are",
    )
    batch_max_records: int = Field(
        5000, gt=0, description="the most Kafka records one transaction applies"
    )
    batch_max_wait_ms: int = Field(
        20, ge=0, description="how long the consumer waits for records when none are buffered"
    )
    poison_attempts: int = Field(
        3, gt=0, description="tries of a record that fails for a reason a retry cannot fix"
    )

    @model_validator(mode="after")
    def _no_placeholder_secret_outside_development(self) -> Self:
        if self.environment != "development":
            for name, value in self:
                if isinstance(value, SecretStr) and value.get_secret_value() == PLACEHOLDER_SECRET:
                    raise ValueError(
                        f"{name} still holds the development placeholder; set"
                        f" {self._variable_of(name)} to a real secret to run in {self.environment}"
                    )
        return self

    @classmethod
    def _variable_of(cls, name: str) -> str:
        # A shared setting is read from its unprefixed alias (`TALLY_SERVICE_TOKEN`).
        alias = cls.model_fields[name].validation_alias
        if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
            return alias.choices[0]
        return f"{cls.model_config.get('env_prefix', '')}{name.upper()}"
