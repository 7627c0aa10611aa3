"""Encrypting secrets at rest (provider keys, later tokens) with Fernet.

The key comes from HOMEPORT_SECRET_KEY (any string; HKDF stretches it). To rotate it, set
HOMEPORT_SECRET_KEY to the new value and HOMEPORT_SECRET_KEY_PREVIOUS to the old one: the
first key encrypts, every key decrypts. A secret saved again is encrypted under the new key;
once all are, the old key can be dropped (docs/configuration.md).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from homeport.errors import HomeportError


def _fernet(secret: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"homeport-secretbox"
    ).derive(secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    def __init__(self, keys: Sequence[str]):
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([_fernet(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise HomeportError(
                "a stored secret cannot be decrypted: was HOMEPORT_SECRET_KEY changed "
                "without keeping the previous key?"
            ) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
