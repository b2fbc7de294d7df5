"""A service refuses to start outside development while a secret is still the placeholder."""

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import PLACEHOLDER_SECRET, ServiceSettings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_EXAMPLE_")
    signing_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)


@pytest.mark.parametrize("environment", ["test", "production"])
def test_given_a_placeholder_secret_outside_development_then_settings_refuse_naming_it(
    environment: str,
) -> None:
    with pytest.raises(ValidationError, match="TALLY_EXAMPLE_SIGNING_KEY"):
        ExampleSettings(environment=environment)


def test_given_development_then_the_placeholder_is_accepted() -> None:
    assert ExampleSettings().environment == "development"


def test_given_production_and_a_real_secret_then_settings_load_without_revealing_it() -> None:
    settings = ExampleSettings(environment="production", signing_key=SecretStr("s3cr3t-value"))
    assert "s3cr3t-value" not in repr(settings)


def test_given_shared_variables_then_every_service_reads_them_unprefixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("TALLY_EXAMPLE_DATABASE_URL", "postgresql://x@db/example")
    settings = ExampleSettings()
    assert (settings.kafka_bootstrap, settings.database_url) == (
        "broker:9092",
        "postgresql://x@db/example",
    )
