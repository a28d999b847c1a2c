"""Secrets at rest (AI `engine_key`, webhook secrets): Fernet with the key(s) from config.

A key is 32 random bytes in URL-safe base64 (what `generate_secret_key()` prints); it is
checked when the store opens, never derived from a passphrase. Several keys may be given for
rotation: the first encrypts, all decrypt. Secrets come back only as SecretStr, which
neither repr nor logging reveals."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from flowengine.store.errors import EncryptionKeyMissingError, InvalidEncryptionKeyError, SecretDecryptError

KEY_HINT = (
    "generate one with: python -c 'from flowengine.store import generate_secret_key; "
    "print(generate_secret_key())'"
)


def generate_secret_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str | SecretStr, position: int) -> Fernet:
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    raw = raw.strip()
    try:
        decoded = base64.urlsafe_b64decode(raw.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        decoded = b""
    if len(decoded) != 32:
        # The key itself is never put into the message.
        raise InvalidEncryptionKeyError(
            f"secret key #{position + 1} is not 32 bytes in URL-safe base64 (44 characters); {KEY_HINT}"
        )
    return Fernet(raw.encode("ascii"))


class SecretBox:
    """Encrypts and decrypts short secrets; built once at start from the configured keys."""

    def __init__(self, keys: Sequence[str | SecretStr] | str | SecretStr) -> None:
        if isinstance(keys, (str, SecretStr)):
            keys = [keys]
        self._fernets = [_fernet(key, i) for i, key in enumerate(keys)]
        self._multi = MultiFernet(self._fernets) if self._fernets else None

    @property
    def configured(self) -> bool:
        return self._multi is not None

    def _box(self, purpose: str) -> MultiFernet:
        if self._multi is None:
            raise EncryptionKeyMissingError(f"{purpose} needs store.secret_key, which is not configured; {KEY_HINT}")
        return self._multi

    def encrypt(self, secret: str | SecretStr, *, purpose: str) -> str:
        plain = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        return self._box(purpose).encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, purpose: str) -> SecretStr:
        try:
            plain = self._box(purpose).decrypt(token.encode("ascii"))
        except InvalidToken:
            raise SecretDecryptError(
                f"{purpose} does not decrypt with the configured store.secret_key: the key is not the one "
                "it was encrypted with (or the stored value is damaged)"
            ) from None
        return SecretStr(plain.decode("utf-8"))

    def needs_rotation(self, token: str) -> bool:
        """True if the token decrypts only with an older key (not the first one)."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except (InvalidToken, IndexError):
            return True
        return False

    def rotate(self, token: str, *, purpose: str) -> str:
        """Re-encrypts with the first key."""
        try:
            return self._box(purpose).rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptError(f"{purpose} does not decrypt with any configured store.secret_key") from None
