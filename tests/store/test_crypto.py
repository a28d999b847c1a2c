"""SecretBox: Fernet round trips, rotation, and key checks whose messages never echo the key."""
from __future__ import annotations

import pytest
from pydantic import SecretStr

from flowengine.store import EncryptionKeyMissingError, InvalidEncryptionKeyError, SecretDecryptError
from flowengine.store.crypto import SecretBox, generate_secret_key


def test_round_trip_and_fresh_ciphertexts() -> None:
    box = SecretBox([generate_secret_key()])
    one, two = box.encrypt("sk-1", purpose="t"), box.encrypt(SecretStr("sk-1"), purpose="t")
    assert one != two  # random IV each time
    assert box.decrypt(one, purpose="t") == SecretStr("sk-1") == box.decrypt(two, purpose="t")


def test_rotation() -> None:
    old, new = generate_secret_key(), generate_secret_key()
    token = SecretBox([old]).encrypt("sk-1", purpose="t")
    both = SecretBox([new, old])
    assert both.needs_rotation(token)
    fresh = both.rotate(token, purpose="t")
    assert not both.needs_rotation(fresh)
    assert SecretBox([new]).decrypt(fresh, purpose="t") == SecretStr("sk-1")
    with pytest.raises(SecretDecryptError, match="t does not decrypt"):
        SecretBox([new]).decrypt(token, purpose="t")


def test_key_problems() -> None:
    key = generate_secret_key()
    with pytest.raises(InvalidEncryptionKeyError, match="secret key #2") as error:
        SecretBox([key, key[:20]])
    assert key[:20] not in str(error.value)
    empty = SecretBox([])
    assert not empty.configured
    with pytest.raises(EncryptionKeyMissingError, match=r"webhook secret needs store\.secret_key"):
        empty.encrypt("x", purpose="webhook secret")
    assert SecretBox(SecretStr(key)).configured  # one key alone is accepted too
