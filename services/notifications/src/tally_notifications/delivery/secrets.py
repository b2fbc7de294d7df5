"""Accounts' webhook secrets, sealed at rest with Fernet; the customer is shown them, so not hashed.

`TALLY_NOTIFICATIONS_WEBHOOK_SECRET_KEYS` holds comma-separated Fernet keys: the first seals
every new secret, all of them open what is stored (rotation: put a new key first, keep the old
ones until no row needs them). The development placeholder stands for a fixed, public key and
is refused outside development. Errors name a key by its position, never by its value.
"""

import base64
import binascii
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from tally_runtime.settings import PLACEHOLDER_SECRET

_VARIABLE = "TALLY_NOTIFICATIONS_WEBHOOK_SECRET_KEYS"
# What the development placeholder stands for: public, so only for development data.
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"tally development webhook-secret key").digest()
)


class WebhookSecretKeysInvalid(Exception):
    """The configured keys cannot be used.

    Not a ValueError on purpose: pydantic would wrap it into a ValidationError; this one
    reaches the operator as it is, without the settings' input.
    """


class WebhookSecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens."""


def new_webhook_secret() -> str:
    """A fresh secret: 32 random bytes, hex, with a prefix that says what it is."""
    return "whsec_" + secrets.token_hex(32)


def _fernet(key: str, position: int, environment: str) -> Fernet:
    if key == PLACEHOLDER_SECRET:
        if environment != "development":
            raise WebhookSecretKeysInvalid(
                f"{_VARIABLE}: key {position} is the development placeholder; give real keys"
                f" to run in {environment}"
            )
        return Fernet(_DEVELOPMENT_KEY)
    try:
        return Fernet(key.encode())
    except (ValueError, binascii.Error):
        raise WebhookSecretKeysInvalid(
            f"{_VARIABLE}: key {position} is not a Fernet key (32 bytes, url-safe base64:"
            " `python -c 'from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())'`)"
        ) from None


class WebhookSecretCipher:
    """Seals webhook secrets with the first key and opens them with any of them."""

    def __init__(self, keys: str, *, environment: str) -> None:
        entries = [key.strip() for key in keys.split(",")]
        if not any(entries):
            raise WebhookSecretKeysInvalid(f"{_VARIABLE} holds no key")
        self._keys = MultiFernet(
            [_fernet(key, position, environment) for position, key in enumerate(entries, 1) if key]
        )

    def seal(self, secret: str) -> bytes:
        """The secret as a token only these keys open."""
        return self._keys.encrypt(secret.encode())

    def open(self, token: bytes) -> str:
        """The secret sealed in `token`."""
        try:
            return self._keys.decrypt(token).decode()
        except InvalidToken:
            raise WebhookSecretUnreadable(
                "no configured webhook-secret key opens this secret: was its key removed too soon?"
            ) from None
