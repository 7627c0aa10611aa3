"""Password hashing with argon2id (argon2-cffi's defaults, which follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from homeport.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 1024

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both paths take the same time.
_DUMMY = _hasher.hash("homeport-timing-equaliser")


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            f"a password needs at least {MIN_LENGTH} characters", param="password"
        )
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(
            f"a password may have at most {MAX_LENGTH} characters", param="password"
        )


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches; with no stored hash, spends the same time and fails."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
