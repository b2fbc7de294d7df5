"""Credit-check data sealed at rest: Fernet (AES-128-CBC + HMAC-SHA256) with key rotation.

`TALLY_ACCOUNTS_CREDIT_CHECK_KEYS` holds comma-separated Fernet keys: the first seals every
new write, all of them open what is stored, so a new key goes first and an old one stays
until no row needs it. The development placeholder stands for a fixed, public key and is
refused outside development. Errors name a key by its position, never by its value.
"""

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tally_runtime.settings import PLACEHOLDER_SECRET

# What the development placeholder stands for: public, so only for development data.
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"tally development credit-check key").digest()
)


class CreditCheckKeysInvalid(Exception):
    """The configured keys cannot be used.

    Not a ValueError on purpose: pydantic would wrap one into a ValidationError that prints the
    settings' input, keys included; this one reaches the operator as it is.
    """


class CreditCheckUnreadable(Exception):
    """Stored credit-check data that none of the configured keys opens."""


def _fernet(key: str, position: int, environment: str) -> Fernet:
    if key == PLACEHOLDER_SECRET:
        if environment != "development":
            raise CreditCheckKeysInvalid(
                f"TALLY_ACCOUNTS_CREDIT_CHECK_KEYS: key {position} is the development"
                f" placeholder; give real keys to run in {environment}"
            )
        return Fernet(_DEVELOPMENT_KEY)
    try:
        return Fernet(key.encode())
    except (ValueError, binascii.Error):
        raise CreditCheckKeysInvalid(
            f"TALLY_ACCOUNTS_CREDIT_CHECK_KEYS: key {position} is not a Fernet key (32 bytes,"
            " url-safe base64: `python -c 'from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())'`)"
        ) from None


class CreditCheckCipher:
    """Seals credit-check data with the first key and opens it with any of them."""

    def __init__(self, keys: str, *, environment: str) -> None:
        entries = [key.strip() for key in keys.split(",")]
        if not any(entries):
            raise CreditCheckKeysInvalid("TALLY_ACCOUNTS_CREDIT_CHECK_KEYS holds no key")
        self._keys = MultiFernet(
            [_fernet(key, position, environment) for position, key in enumerate(entries, 1) if key]
        )

    def seal(self, data: dict[str, Any]) -> bytes:
        """The data as a token only these keys open, sealed with the first key."""
        return self._keys.encrypt(json.dumps(data, separators=(",", ":")).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        """The data sealed in `token`, with whichever configured key sealed it."""
        try:
            data: dict[str, Any] = json.loads(self._keys.decrypt(token))
        except InvalidToken:
            raise CreditCheckUnreadable(
                "no configured credit-check key opens this data: was its key removed too soon?"
            ) from None
        return data
