"""Credit-check data sealed with Fernet keys: rotation, the placeholder, and quiet errors."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from tally_accounts.config import Settings
from tally_accounts.invoicing_requests.crypto import (
    CreditCheckCipher,
    CreditCheckKeysInvalid,
    CreditCheckUnreadable,
)
from tally_runtime.settings import PLACEHOLDER_SECRET

DATA = {"duns_number": "123456789", "legal_company_name": "Acme Inc."}


def test_given_sealed_data_then_it_is_not_plaintext_and_opens_to_the_same_data() -> None:
    cipher = CreditCheckCipher(Fernet.generate_key().decode(), environment="test")
    sealed = cipher.seal(DATA)
    assert b"123456789" not in sealed and b"Acme" not in sealed
    assert cipher.open(sealed) == DATA


def test_given_a_new_key_first_then_old_data_still_opens_and_new_data_uses_the_new_key() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed_before = CreditCheckCipher(old.decode(), environment="test").seal(DATA)
    rotated = CreditCheckCipher(f"{new.decode()},{old.decode()}", environment="test")
    assert rotated.open(sealed_before) == DATA
    sealed_after = rotated.seal(DATA)
    assert Fernet(new).decrypt(sealed_after)
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(sealed_after)


def test_given_the_old_key_removed_then_old_data_is_unreadable_with_a_clear_error() -> None:
    sealed = CreditCheckCipher(Fernet.generate_key().decode(), environment="test").seal(DATA)
    with pytest.raises(CreditCheckUnreadable, match="removed too soon"):
        CreditCheckCipher(Fernet.generate_key().decode(), environment="test").open(sealed)


def test_given_the_placeholder_then_it_works_in_development_only() -> None:
    cipher = CreditCheckCipher(PLACEHOLDER_SECRET, environment="development")
    assert cipher.open(cipher.seal(DATA)) == DATA
    for environment in ("test", "production"):
        with pytest.raises(CreditCheckKeysInvalid, match="placeholder"):
            CreditCheckCipher(PLACEHOLDER_SECRET, environment=environment)


def test_given_settings_outside_development_without_keys_then_the_service_refuses_them() -> None:
    with pytest.raises(Exception, match=r"credit.check.keys|CREDIT_CHECK_KEYS"):
        Settings(environment="production", service_token="a-real-service-token")
    assert Settings(environment="development").credit_check_keys.get_secret_value()


def test_given_a_malformed_key_then_the_error_names_its_position_never_its_value() -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(CreditCheckKeysInvalid) as refused:
        Settings(
            environment="production",
            service_token="a-real-service-token",
            credit_check_keys=f"{good},not-a-key-but-secret-text",
        )
    assert "key 2" in str(refused.value)
    assert "not-a-key-but-secret-text" not in str(refused.value) and good not in str(refused.value)
