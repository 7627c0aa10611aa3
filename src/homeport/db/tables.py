"""Storage rows. Changing a table means adding a migration in `migrations/versions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every database: stored as UTC, read back aware.

    SQLite has no time zones: it would drop the offset of a value written and hand back a
    naive one. Naive values written are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def _storable(value: str | None) -> str | None:
    return value.replace("\x00", "\ufffd") if value else value


class StoredString(TypeDecorator[str]):
    """VARCHAR that takes any Python string, on every database.

    PostgreSQL refuses NUL characters in text, so U+FFFD is stored in their place, in values
    written and in values compared with (a lookup by such an id finds nothing, not an error).
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return _storable(value)


class StoredText(StoredString):
    """TEXT that takes any Python string, as `StoredString`."""

    impl = Text


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(100), unique=True)
    email: Mapped[str | None] = mapped_column(StoredString(320))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(StoredString(100))
    prefix: Mapped[str] = mapped_column(StoredString(16))
    secret_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ProviderRow(Base):
    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(64), unique=True)
    kind: Mapped[str] = mapped_column(StoredString(32))
    base_url: Mapped[str] = mapped_column(StoredString(2048))
    api_key_encrypted: Mapped[str | None] = mapped_column(StoredText())
    models_allowed: Mapped[list[str] | None] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(StoredString(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChatSessionRow(Base):
    __tablename__ = "chat_sessions"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(StoredString(200))
    model: Mapped[str | None] = mapped_column(StoredString(300))
    system_prompt: Mapped[str | None] = mapped_column(StoredText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_chat_sessions_user_id_id", "user_id", "id"),)


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(StoredString(16))
    content: Mapped[str] = mapped_column(StoredText(), default="")
    status: Mapped[str] = mapped_column(StoredString(16), default="complete")
    error: Mapped[str | None] = mapped_column(StoredText())
    model: Mapped[str | None] = mapped_column(StoredString(300))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(StoredString(32))
    reply_to: Mapped[str | None] = mapped_column(StoredString(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
