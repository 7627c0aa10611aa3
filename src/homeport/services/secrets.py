"""Users' secrets: set, listed and deleted by their owner, resolved into `${NAME}` references.

A secret belongs to the user who set it; an app applied by that user reads its owner's
secrets. Values are encrypted at rest (`homeport.auth.secretbox`) and never leave this
service except through `resolve` and `resolve_all`: not in listings, audit events or logs.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.secretbox import SecretBox
from homeport.db.engine import Database
from homeport.db.repositories import SecretRepository
from homeport.db.repositories.secrets import reencrypt_all
from homeport.domain.secrets import (
    MAX_VALUE_BYTES,
    Secret,
    references,
    substitute,
    valid_name,
)
from homeport.domain.users import Principal
from homeport.errors import NotFound, ValidationFailed
from homeport.services.audit import AuditService

log = logging.getLogger(__name__)

T = TypeVar("T")
RESOURCE_TYPE = "secret"


class SecretService:
    def __init__(self, db: Database, audit: AuditService, box: SecretBox):
        self.db = db
        self.audit = audit
        self.box = box

    async def set(self, principal: Principal, name: str, value: str) -> tuple[Secret, bool]:
        """Create or replace one of the caller's secrets; returns it and whether it is new."""
        check_name(name)
        _check_value(value)
        encrypted = self.box.encrypt(value)
        async with self.db.transaction() as session:
            secret, created = await SecretRepository(session).put(
                principal.user_id, name, encrypted
            )
            await self._record(session, principal, "secret.set", secret, created=created)
        return secret, created

    async def list(self, principal: Principal) -> list[Secret]:
        async with self.db.transaction() as session:
            return await SecretRepository(session).owned_by(principal.user_id)

    async def delete(self, principal: Principal, name: str) -> None:
        check_name(name)
        async with self.db.transaction() as session:
            secret = await SecretRepository(session).delete(principal.user_id, name)
            if secret is None:
                raise NotFound(f"you have no secret named {name}", param="name")
            await self._record(session, principal, "secret.deleted", secret)

    async def missing(self, owner_id: str, names: Iterable[str]) -> builtins.list[str]:
        """Those of `names` the owner has no secret for, sorted."""
        wanted = set(names)
        async with self.db.transaction() as session:
            found = await SecretRepository(session).names(owner_id, wanted)
        return sorted(wanted - found)

    async def resolve(self, owner_id: str, text: str) -> str:
        """`text` with every `${NAME}` replaced by the owner's secret NAME."""
        resolved: str = await self.resolve_all(owner_id, text)
        return resolved

    async def resolve_all(self, owner_id: str, value: T) -> T:
        """A copy of `value` (strings, dicts and lists, nested) with every `${NAME}` replaced.

        A reference to a secret the owner does not have is a `ValidationFailed` that names
        every missing one.
        """
        names = references(value)
        resolved: T = substitute(value, await self._values(owner_id, names) if names else {})
        return resolved

    async def reencrypt(self, principal: Principal) -> dict[str, int]:
        """Encrypt every encrypted value the database holds under the current key (after a
        key rotation, before the previous key is dropped): users' secrets, provider API
        keys, OAuth client secrets, connection tokens. How many of each."""
        async with self.db.transaction() as session:
            counts = await reencrypt_all(session, self.box.rotate)
            await self.audit.record(
                "secrets.reencrypted",
                actor=principal,
                target_type=RESOURCE_TYPE,
                details=counts,
                session=session,
            )
        log.info("re-encrypted under the current key: %s", counts)
        return counts

    async def _record(
        self,
        session: AsyncSession,
        principal: Principal,
        action: str,
        secret: Secret,
        **details: Any,
    ) -> None:
        await self.audit.record(
            action,
            actor=principal,
            target_type=RESOURCE_TYPE,
            target_id=secret.id,
            details={"name": secret.name, **details},
            session=session,
        )

    async def _values(self, owner_id: str, names: builtins.list[str]) -> dict[str, str]:
        async with self.db.transaction() as session:
            encrypted = await SecretRepository(session).encrypted(owner_id, names)
        _require_all(names, encrypted)
        return {name: self.box.decrypt(token) for name, token in encrypted.items()}


class SecretsOwnedData:
    """A deleted user's secrets go to the heir (the heir's own win a clash of names), or go."""

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> None:
        await SecretRepository(session).hand_over(from_user_id, to_user_id)

    async def erase(self, session: AsyncSession, user_id: str) -> None:
        await SecretRepository(session).erase(user_id)


def check_name(name: str) -> None:
    if not valid_name(name):
        raise ValidationFailed(
            "a secret's name is capitals, digits and underscores (up to 64, not starting "
            "with a digit), e.g. HR_TOKEN",
            param="name",
        )


def _check_value(value: str) -> None:
    if not value:
        raise ValidationFailed("a secret's value cannot be empty", param="value")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValidationFailed(
            "a secret's value must be valid Unicode text", param="value"
        ) from exc
    if size > MAX_VALUE_BYTES:
        raise ValidationFailed(
            f"a secret's value can be at most {MAX_VALUE_BYTES // 1024} KiB", param="value"
        )


def _require_all(names: list[str], found: dict[str, str]) -> None:
    missing = [name for name in names if name not in found]
    if len(missing) == 1:
        raise ValidationFailed(
            f"missing secret: {missing[0]}; set it with `homeport secret set {missing[0]}`",
            code="missing_secrets",
        )
    if missing:
        raise ValidationFailed(
            f"missing secrets: {', '.join(missing)}; set them with `homeport secret set NAME`",
            code="missing_secrets",
        )
