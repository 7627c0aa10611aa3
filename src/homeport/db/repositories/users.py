"""Users and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import ApiKeyRow, UserRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.users import ADMIN, ApiKey, User
from homeport.errors import Conflict


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        roles=tuple(row.roles or ()),
        disabled=row.disabled,
        created_at=row.created_at,
        display_name=row.display_name,
        source=row.source,
        has_password=row.password_hash is not None,
        last_login_at=row.last_login_at,
    )


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes or ()),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class UserRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self,
        *,
        name: str,
        email: str | None,
        roles: Sequence[str],
        source: str = "admin",
        password_hash: str | None = None,
        display_name: str | None = None,
    ) -> User:
        row = UserRow(
            id=new_id("user"),
            name=name,
            email=email,
            roles=list(roles),
            source=source,
            password_hash=password_hash,
            display_name=display_name,
        )
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"a user named '{name}' already exists", param="name") from exc
        return _user(row)

    async def get(self, user_id: str) -> User | None:
        row = await self.session.get(UserRow, user_id)
        return _user(row) if row else None

    async def by_name(self, name: str) -> User | None:
        row = await self.session.scalar(select(UserRow).where(UserRow.name == name))
        return _user(row) if row else None

    async def by_email(self, email: str) -> User | None:
        """The one user with this address (any case); none when several share it."""
        rows = list(
            await self.session.scalars(
                select(UserRow).where(func.lower(UserRow.email) == email.lower()).limit(2)
            )
        )
        return _user(rows[0]) if len(rows) == 1 else None

    async def list(self) -> list[User]:
        rows = await self.session.scalars(select(UserRow).order_by(UserRow.id))
        return [_user(r) for r in rows]

    async def password_hash(self, user_id: str) -> str | None:
        return await self.session.scalar(select(UserRow.password_hash).where(UserRow.id == user_id))

    async def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        await self.session.execute(
            update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
        )

    async def update(self, user_id: str, **values: Any) -> User | None:
        """Change columns of a user (disabled, roles, display_name, email)."""
        row = await self.session.get(UserRow, user_id)
        if row is None:
            return None
        for name, value in values.items():
            setattr(row, name, list(value) if name == "roles" else value)
        await self.session.flush()
        return _user(row)

    async def any_with_password(self) -> bool:
        found = await self.session.scalar(
            select(UserRow.id).where(UserRow.password_hash.is_not(None)).limit(1)
        )
        return found is not None

    async def enabled_admin_ids(self) -> set[str]:
        rows = await self.session.execute(
            select(UserRow.id, UserRow.roles).where(UserRow.disabled.is_(False))
        )
        return {user_id for user_id, roles in rows if ADMIN in (roles or ())}

    async def touch_login(self, user_id: str, when: datetime) -> None:
        await self.session.execute(
            update(UserRow).where(UserRow.id == user_id).values(last_login_at=when)
        )

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(UserRow)) or 0)


class ApiKeyRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self,
        *,
        user_id: str,
        name: str,
        prefix: str,
        secret_hash: str,
        scopes: Sequence[str],
        expires_at: datetime | None,
    ) -> ApiKey:
        row = ApiKeyRow(
            id=new_id("key"),
            user_id=user_id,
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            scopes=list(scopes),
            expires_at=expires_at,
        )
        self.session.add(row)
        await self.session.flush()
        return _key(row)

    async def by_hash(self, secret_hash: str) -> ApiKey | None:
        row = await self.session.scalar(
            select(ApiKeyRow).where(ApiKeyRow.secret_hash == secret_hash)
        )
        return _key(row) if row else None

    async def get(self, key_id: str) -> ApiKey | None:
        row = await self.session.get(ApiKeyRow, key_id)
        return _key(row) if row else None

    async def list(self, *, user_id: str | None = None) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if user_id is not None:
            query = query.where(ApiKeyRow.user_id == user_id)
        return [_key(r) for r in await self.session.scalars(query)]

    async def revoke(self, key_id: str) -> None:
        await self.session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def touch(self, key_id: str, when: datetime) -> None:
        await self.session.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=when)
        )
