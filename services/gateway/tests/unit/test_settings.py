"""The gateway refuses to start outside development with a development placeholder secret."""

import pytest
from pydantic import SecretStr, ValidationError
from tally_gateway.config import Settings
from tally_runtime.settings import PLACEHOLDER_SECRET

REAL_KEY = SecretStr("a-real-ops-key-from-the-vault")
REAL_PEPPER = SecretStr("a-real-pepper-from-the-vault")
REAL_TOKEN = SecretStr("a-real-service-token-from-the-vault")
PLACEHOLDER = SecretStr(PLACEHOLDER_SECRET)


def test_given_production_and_the_placeholder_ops_key_then_start_up_is_refused() -> None:
    with pytest.raises(ValidationError, match="TALLY_GATEWAY_OPS_KEY"):
        Settings(
            environment="production",
            ops_key=PLACEHOLDER,
            token_pepper=REAL_PEPPER,
            service_token=REAL_TOKEN,
        )


def test_given_production_and_the_placeholder_pepper_then_start_up_is_refused() -> None:
    with pytest.raises(ValidationError, match="TALLY_GATEWAY_TOKEN_PEPPER"):
        Settings(
            environment="production",
            ops_key=REAL_KEY,
            token_pepper=PLACEHOLDER,
            service_token=REAL_TOKEN,
        )


def test_given_production_and_real_secrets_then_settings_load_without_revealing_them() -> None:
    settings = Settings(
        environment="production",
        ops_key=REAL_KEY,
        token_pepper=REAL_PEPPER,
        service_token=REAL_TOKEN,
    )
    assert REAL_KEY.get_secret_value() not in repr(settings)
    assert REAL_PEPPER.get_secret_value() not in repr(settings)
    assert REAL_TOKEN.get_secret_value() not in repr(settings)


def test_given_development_then_the_placeholders_are_accepted() -> None:
    settings = Settings(environment="development", ops_key=PLACEHOLDER, token_pepper=PLACEHOLDER)
    assert settings.ops_key.get_secret_value() == PLACEHOLDER_SECRET


def test_given_the_environment_then_the_gateway_reads_its_prefixed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TALLY_GATEWAY_ACCOUNTS_URL", "http://accounts:8101")
    monkeypatch.setenv("TALLY_GATEWAY_OPS_KEY", "from-env")
    settings = Settings()
    assert settings.accounts_url == "http://accounts:8101"
    assert settings.ops_key.get_secret_value() == "from-env"
