"""API keys: random, shown once, stored as a SHA-256 hash (they carry 256 bits of entropy)."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "hp-"
DISPLAY_PREFIX_LENGTH = 10


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
