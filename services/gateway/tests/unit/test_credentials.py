"""Auth tokens are stored only as peppered hashes; headers are parsed strictly."""

import base64
import secrets

from tally_gateway.domain import (
    BasicCredentials,
    auth_token_from,
    basic_credentials,
    hash_token,
    is_account_sid,
    is_ops_key,
    token_matches,
)

SID = "AC" + "0123456789abcdef" * 2


def new_auth_token() -> str:
    """A token as an account opening yields it: from a fresh random seed."""
    return auth_token_from(b"pepper", secrets.token_bytes(16))


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_given_a_new_token_then_it_is_32_lowercase_hex_digits_and_never_repeats() -> None:
    tokens = {new_auth_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(
        len(token) == 32 and int(token, 16) >= 0 and token == token.lower() for token in tokens
    )


def test_given_a_token_then_its_stored_hash_is_an_hmac_that_does_not_contain_it() -> None:
    token = new_auth_token()
    stored = hash_token(b"pepper", token)
    assert len(stored) == 32
    assert token.encode() not in stored and bytes.fromhex(token) not in stored
    assert stored == hash_token(b"pepper", token)


def test_given_the_stored_hash_then_only_the_same_token_with_the_same_pepper_matches() -> None:
    token = new_auth_token()
    stored = hash_token(b"pepper", token)
    assert token_matches(b"pepper", token, stored)
    assert not token_matches(b"pepper", new_auth_token(), stored)
    assert not token_matches(b"another pepper", token, stored)


def test_given_the_ops_key_then_only_the_exact_key_is_accepted() -> None:
    assert is_ops_key("ops-key", "ops-key")
    assert not is_ops_key("ops-ke", "ops-key")
    assert not is_ops_key("", "ops-key")
    assert not is_ops_key("öps-key", "ops-key")


def test_given_a_basic_header_then_the_sid_and_token_are_read() -> None:
    assert basic_credentials("Basic", _encoded(f"{SID}:tok")) == BasicCredentials(SID, "tok")
    assert basic_credentials("basic", _encoded(f"{SID}:tok")) == BasicCredentials(SID, "tok")


def test_given_a_password_with_colons_then_only_the_first_colon_splits() -> None:
    assert basic_credentials("Basic", _encoded("SKkey:se:cr:et")) == BasicCredentials(
        "SKkey", "se:cr:et"
    )


def test_given_malformed_basic_credentials_then_none_are_read() -> None:
    assert basic_credentials("Bearer", _encoded(f"{SID}:tok")) is None
    assert basic_credentials("Basic", "not base64!") is None
    assert basic_credentials("Basic", _encoded(f"{SID}tok")) is None
    assert basic_credentials("Basic", _encoded(f"{SID}:")) is None
    assert basic_credentials("Basic", _encoded(":tok")) is None
    assert basic_credentials("Basic", base64.b64encode(b"\xff\xfe:\xff").decode()) is None


def test_given_credentials_then_their_password_never_shows_in_logs() -> None:
    assert "tok" not in repr(BasicCredentials(SID, "tok"))


def test_given_usernames_then_only_account_sids_name_accounts() -> None:
    assert is_account_sid(SID)
    assert not is_account_sid(SID.upper())
    assert not is_account_sid("SK" + SID[2:])
    assert not is_account_sid(SID + "0")
