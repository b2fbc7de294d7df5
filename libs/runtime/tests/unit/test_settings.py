"""A service refuses to start outside development while a secret is still the placeholder."""

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict
from tally_runtime.settings import PLACEHOLDER_SECRET, ServiceSettings


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TALLY_EXAMPLE_")
    signing_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)


REAL_SERVICE_TOKEN = SecretStr("a-real-service-token")


@pytest.mark.parametrize("environment", ["test", "production"])
def test_given_a_placeholder_secret_outside_development_then_settings_refuse_naming_it(
    environment: str,
) -> None:
    with pytest.raises(ValidationError, match="TALLY_EXAMPLE_SIGNING_KEY"):
        ExampleSettings(environment=environment, service_token=REAL_SERVICE_TOKEN)


def test_given_development_then_the_placeholder_is_accepted() -> None:
    assert ExampleSettings().environment == "development"


def test_given_production_and_a_real_secret_then_settings_load_without_revealing_it() -> None:
    settings = ExampleSettings(
        environment="production",
        signing_key=SecretStr("s3cr3t-value"),
        service_token=REAL_SERVICE_TOKEN,
    )
    assert "s3cr3t-value" not in repr(settings)
    assert REAL_SERVICE_TOKEN.get_secret_value() not in repr(settings)


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


def test_given_production_and_the_placeholder_service_token_then_its_shared_variable_is_named() -> (
    None
):
    with pytest.raises(ValidationError, match="set TALLY_SERVICE_TOKEN to a real secret"):
        ExampleSettings(environment="production", signing_key=SecretStr("s3cr3t-value"))


def test_given_the_shared_service_token_variable_then_every_service_reads_it_unprefixed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALLY_SERVICE_TOKEN", "from-the-vault")
    monkeypatch.setenv("TALLY_EXAMPLE_SERVICE_TOKEN", "not-this-one")
    settings = ExampleSettings(environment="production", signing_key=SecretStr("s3cr3t-value"))
    assert settings.service_token.get_secret_value() == "from-the-vault"
