"""Repositories: queries and row<->domain conversion. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import (
    ApiKeyRow,
    ChatSessionRow,
    MessageRow,
    ProviderRow,
    UserRow,
    utcnow,
)
from homeport.domain.ids import new_id
from homeport.domain.providers import ProviderConfig
from homeport.domain.sessions import ChatSession, StoredMessage
from homeport.domain.users import ApiKey, User
from homeport.errors import Conflict


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        email=row.email,
        roles=tuple(row.roles or ()),
        disabled=row.disabled,
        created_at=row.created_at,
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

    async def add(self, *, name: str, email: str | None, roles: Sequence[str]) -> User:
        row = UserRow(id=new_id("user"), name=name, email=email, roles=list(roles))
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

    async def list(self) -> list[User]:
        rows = await self.session.scalars(select(UserRow).order_by(UserRow.id))
        return [_user(r) for r in rows]

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


def _provider(row: ProviderRow) -> ProviderConfig:
    return ProviderConfig(
        id=row.id,
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]
        base_url=row.base_url,
        has_api_key=row.api_key_encrypted is not None,
        models_allowed=tuple(row.models_allowed) if row.models_allowed is not None else None,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        options=dict(row.options or {}),
    )


class ProviderRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def list(self) -> list[ProviderConfig]:
        rows = await self.session.scalars(select(ProviderRow).order_by(ProviderRow.name))
        return [_provider(r) for r in rows]

    async def get(self, name: str) -> ProviderConfig | None:
        row = await self._row(name)
        return _provider(row) if row else None

    async def encrypted_key(self, name: str) -> str | None:
        row = await self._row(name)
        return row.api_key_encrypted if row else None

    async def upsert(self, *, name: str, values: dict[str, Any]) -> tuple[ProviderConfig, bool]:
        """Create or update by name; returns the record and whether it was created."""
        row = await self._row(name)
        created = row is None
        if row is None:
            row = ProviderRow(id=new_id("prov"), name=name)
            self.session.add(row)
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return _provider(row), created

    async def delete(self, name: str) -> bool:
        result = await self.session.execute(delete(ProviderRow).where(ProviderRow.name == name))
        return bool(getattr(result, "rowcount", 0))

    async def _row(self, name: str) -> ProviderRow | None:
        return await self.session.scalar(select(ProviderRow).where(ProviderRow.name == name))


def _chat_session(row: ChatSessionRow) -> ChatSession:
    return ChatSession(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        model=row.model,
        system_prompt=row.system_prompt,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        session_id=row.session_id,
        role=row.role,
        content=row.content,
        status=row.status,
        created_at=row.created_at,
        error=row.error,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        time_to_first_token_ms=row.time_to_first_token_ms,
        duration_ms=row.duration_ms,
        finish_reason=row.finish_reason,
        reply_to=row.reply_to,
    )


class ChatSessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self, *, user_id: str, title: str, model: str | None, system_prompt: str | None
    ) -> ChatSession:
        row = ChatSessionRow(
            id=new_id("sess"),
            user_id=user_id,
            title=title,
            model=model,
            system_prompt=system_prompt,
        )
        self.session.add(row)
        await self.session.flush()
        return _chat_session(row)

    async def get(self, session_id: str, *, user_id: str) -> ChatSession | None:
        row = await self._row(session_id, user_id)
        return _chat_session(row) if row else None

    async def page(
        self, *, user_id: str, limit: int, after: str | None
    ) -> tuple[list[ChatSession], bool]:
        """Newest first; `after` is the last id of the previous page."""
        query = select(ChatSessionRow).where(ChatSessionRow.user_id == user_id)
        if after:
            query = query.where(ChatSessionRow.id < after)
        rows = list(
            await self.session.scalars(query.order_by(ChatSessionRow.id.desc()).limit(limit + 1))
        )
        return [_chat_session(r) for r in rows[:limit]], len(rows) > limit

    async def update(self, session_id: str, *, user_id: str, **values: Any) -> ChatSession | None:
        row = await self._row(session_id, user_id)
        if row is None:
            return None
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return _chat_session(row)

    async def delete(self, session_id: str, *, user_id: str) -> bool:
        row = await self._row(session_id, user_id)
        if row is None:
            return False
        await self.session.execute(delete(MessageRow).where(MessageRow.session_id == session_id))
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def add_message(self, session_id: str, **values: Any) -> StoredMessage:
        row = MessageRow(id=new_id("msg"), session_id=session_id, **values)
        self.session.add(row)
        await self.session.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session_id)
            .values(updated_at=utcnow())
        )
        await self.session.flush()
        return _message(row)

    async def messages(self, session_id: str) -> list[StoredMessage]:
        query = (
            select(MessageRow).where(MessageRow.session_id == session_id).order_by(MessageRow.id)
        )
        return [_message(r) for r in await self.session.scalars(query)]

    async def _row(self, session_id: str, user_id: str) -> ChatSessionRow | None:
        return await self.session.scalar(
            select(ChatSessionRow).where(
                ChatSessionRow.id == session_id, ChatSessionRow.user_id == user_id
            )
        )
