"""Storage rows. Changing a table means adding a migration in `migrations/versions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    cache_ok = True


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
    display_name: Mapped[str | None] = mapped_column(StoredString(200))
    password_hash: Mapped[str | None] = mapped_column(StoredString(200))
    # "bootstrap", "admin" (created by an admin), "register", "oidc"
    source: Mapped[str] = mapped_column(StoredString(16), default="admin")
    oidc_issuer: Mapped[str | None] = mapped_column(StoredString(500))
    oidc_subject: Mapped[str | None] = mapped_column(StoredString(255))
    last_login_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc"),)


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
    # Knowledge bases the session's answers are grounded in (ids).
    knowledge: Mapped[list[str]] = mapped_column(JSON, default=list)
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
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # An app's answer: the API calls its assistant made (operation, status, arguments).
    api_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageFeedbackRow(Base):
    """A user's thumbs up or down (and comment) on an answer, with what answered it."""

    __tablename__ = "message_feedback"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(StoredString(40), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(StoredString(8))
    comment: Mapped[str | None] = mapped_column(StoredText())
    model: Mapped[str | None] = mapped_column(StoredString(300))
    app: Mapped[str | None] = mapped_column(StoredString(64), index=True)
    app_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (
        UniqueConstraint("message_id", "user_id", name="uq_message_feedback_message_user"),
    )


# -- users and access -------------------------------------------------------------------------


class OrganizationRow(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(64), unique=True)
    display_name: Mapped[str] = mapped_column(StoredString(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipRow(Base):
    """A user's role in an organization: owner, admin, member or viewer."""

    __tablename__ = "memberships"

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(StoredString(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(StoredString(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_teams_org_name"),)


class TeamMemberRow(Base):
    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class GrantRow(Base):
    """Sharing: a resource made usable (or editable) by a user, a team or an organization."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    resource_type: Mapped[str] = mapped_column(StoredString(32))
    resource_id: Mapped[str] = mapped_column(StoredString(64))
    subject_type: Mapped[str] = mapped_column(StoredString(16))  # user, team, org
    subject_id: Mapped[str] = mapped_column(StoredString(40))
    permission: Mapped[str] = mapped_column(StoredString(16))  # use, edit
    created_by: Mapped[str | None] = mapped_column(StoredString(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "resource_type", "resource_id", "subject_type", "subject_id", name="uq_grants_subject"
        ),
        Index("ix_grants_subject", "subject_type", "subject_id"),
    )


class BrowserSessionRow(Base):
    """A signed-in browser: the cookie holds a random token, stored here hashed."""

    __tablename__ = "browser_sessions"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(StoredString(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(StoredString(300))
    ip: Mapped[str | None] = mapped_column(StoredString(64))


class LoginThrottleRow(Base):
    """Failed sign-ins per account and per address, for throttling across replicas."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(StoredString(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None]


class OidcLoginRow(Base):
    """An SSO sign-in in progress: state, nonce and PKCE verifier, used once."""

    __tablename__ = "oidc_logins"

    state: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(StoredString(64))
    code_verifier: Mapped[str] = mapped_column(StoredString(128))
    redirect_to: Mapped[str | None] = mapped_column(StoredString(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeviceCodeRow(Base):
    """A device-flow sign-in (`homeport login --device`); both codes are stored hashed."""

    __tablename__ = "device_codes"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    user_code_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    client_name: Mapped[str] = mapped_column(StoredString(100))
    status: Mapped[str] = mapped_column(StoredString(16), default="pending")
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_polled_at: Mapped[datetime | None]


class ServerSettingRow(Base):
    """Settings admins change at run time (registration open or not, ...)."""

    __tablename__ = "server_settings"

    key: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QuotaRow(Base):
    """Limits for a user, a key or an app (or the default for everyone: subject_id '*')."""

    __tablename__ = "quotas"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    subject_type: Mapped[str] = mapped_column(StoredString(16))  # user, key, app, default
    subject_id: Mapped[str] = mapped_column(StoredString(64))
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("subject_type", "subject_id", name="uq_quotas_subject"),)


class UsageRow(Base):
    """One inference request: who, through what, on which model, what it cost."""

    __tablename__ = "usage"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(StoredString(40))
    key_id: Mapped[str | None] = mapped_column(StoredString(40))
    app: Mapped[str | None] = mapped_column(StoredString(100))
    provider: Mapped[str] = mapped_column(StoredString(64))
    model: Mapped[str] = mapped_column(StoredString(300))
    operation: Mapped[str] = mapped_column(StoredString(16))
    outcome: Mapped[str] = mapped_column(StoredString(16))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_usage_user_created", "user_id", "created_at"),
        Index("ix_usage_created", "created_at"),
    )


class AuditRow(Base):
    """Append-only record of security-relevant events. Nothing updates or deletes it."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(StoredString(64), index=True)
    outcome: Mapped[str] = mapped_column(StoredString(16), default="success")
    actor_user_id: Mapped[str | None] = mapped_column(StoredString(40), index=True)
    actor_key_id: Mapped[str | None] = mapped_column(StoredString(40))
    target_type: Mapped[str | None] = mapped_column(StoredString(32))
    target_id: Mapped[str | None] = mapped_column(StoredString(100))
    ip: Mapped[str | None] = mapped_column(StoredString(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RunnerTokenRow(Base):
    """A runner's credential: one token, one runner name (a runner cannot be another)."""

    __tablename__ = "runner_tokens"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(64), unique=True)
    prefix: Mapped[str] = mapped_column(StoredString(16))
    secret_hash: Mapped[str] = mapped_column(StoredString(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(StoredString(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ModelRow(Base):
    """A model in the catalogue that runners serve (`kind: Model`)."""

    __tablename__ = "models"

    name: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    engine: Mapped[str] = mapped_column(StoredString(32))
    weights: Mapped[str | None] = mapped_column(StoredString(2048))
    kind: Mapped[str] = mapped_column(StoredString(16))
    context_length: Mapped[int | None] = mapped_column(Integer)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    min_instances: Mapped[int] = mapped_column(Integer, default=0)
    runners: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(StoredString(16), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KnowledgeBaseRow(Base):
    """A knowledge base: an owner, an embedding model, and the index version queries read."""

    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_knowledge_owner_name"),)

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(100))
    description: Mapped[str] = mapped_column(StoredText(), default="")
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("chat_sessions.id", ondelete="CASCADE"), index=True
    )
    embedding_model: Mapped[str] = mapped_column(StoredString(200))
    chunk_size: Mapped[int] = mapped_column(Integer)
    chunk_overlap: Mapped[int] = mapped_column(Integer)
    active_version: Mapped[int] = mapped_column(Integer, default=1)
    building_version: Mapped[int | None] = mapped_column(Integer)
    # The embedding model the version being built uses, when it changes the base's.
    building_model: Mapped[str | None] = mapped_column(StoredString(200))
    schedule: Mapped[str | None] = mapped_column(StoredString(100))
    next_refresh_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KnowledgeSourceRow(Base):
    """What a knowledge base reads: an uploaded file, a URL (or crawl), or inline text."""

    __tablename__ = "knowledge_sources"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(StoredString(8))
    uri: Mapped[str] = mapped_column(StoredString(2048))
    title: Mapped[str | None] = mapped_column(StoredString(300))
    content_type: Mapped[str | None] = mapped_column(StoredString(100))
    blob: Mapped[str | None] = mapped_column(StoredString(64))  # sha256 of a stored file
    text: Mapped[str | None] = mapped_column(StoredText())
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeDocumentRow(Base):
    """One document of a source in one index version, and how its ingestion goes."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (
        UniqueConstraint("source_id", "version", "uri", name="uq_knowledge_document"),
    )

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_sources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(StoredString(2048))
    title: Mapped[str | None] = mapped_column(StoredString(300))
    content_type: Mapped[str | None] = mapped_column(StoredString(100))
    blob: Mapped[str | None] = mapped_column(StoredString(64))
    state: Mapped[str] = mapped_column(StoredString(16), default="queued")
    error: Mapped[str | None] = mapped_column(StoredText())
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JobRow(Base):
    """A background job: claimed with a lease, so a crashed worker's jobs run again."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    kind: Mapped[str] = mapped_column(StoredString(32), index=True)
    key: Mapped[str] = mapped_column(StoredString(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(StoredString(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(StoredText())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppRow(Base):
    """An app (`kind: AIApp`): its name, owner, and the version that answers."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(64), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppVersionRow(Base):
    """One immutable version of an app's spec, as applied."""

    __tablename__ = "app_versions"
    __table_args__ = (UniqueConstraint("app_id", "number", name="uq_app_version"),)

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The model each assistant uses: as written, or the server's default when applied.
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(StoredString(64))
    label: Mapped[str | None] = mapped_column(StoredString(200))
    git: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str | None] = mapped_column(StoredString(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A draft (an eval's spec from a file or a git ref) answers only when named by number.
    draft: Mapped[bool] = mapped_column(default=False)


class SecretRow(Base):
    """A user's secret, encrypted with the server's key (`homeport.auth.secretbox`)."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_secrets_owner_name"),)

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(StoredString(64))
    value_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthProviderRow(Base):
    """An OAuth2 authorization server users connect to; the client secret is encrypted."""

    __tablename__ = "oauth_providers"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    name: Mapped[str] = mapped_column(StoredString(64), unique=True)
    authorize_url: Mapped[str] = mapped_column(StoredString(2048))
    token_url: Mapped[str] = mapped_column(StoredString(2048))
    revoke_url: Mapped[str | None] = mapped_column(StoredString(2048))
    client_id: Mapped[str] = mapped_column(StoredString(255))
    client_secret_encrypted: Mapped[str | None] = mapped_column(Text)  # none: a public client
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(StoredString(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserConnectionRow(Base):
    """A user's own credential for a business system, tokens encrypted; one per name."""

    __tablename__ = "user_connections"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_user_connections_user_name"),)

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(StoredString(64))
    kind: Mapped[str] = mapped_column(StoredString(16))  # "oauth2" or "token"
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthPendingRow(Base):
    """An OAuth2 connection in progress: the state (hashed) and PKCE verifier, used once."""

    __tablename__ = "oauth_pending"

    state_hash: Mapped[str] = mapped_column(StoredString(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(StoredString(64))
    code_verifier_encrypted: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    redirect_to: Mapped[str | None] = mapped_column(StoredString(2048))
    expires_at: Mapped[datetime]


class ApiCallRow(Base):
    """One call an app's assistant made to an API: who, which operation, how it went.

    No bodies and no credentials. Kept when the user is deleted, like the audit log."""

    __tablename__ = "api_calls"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(StoredString(40), index=True)
    app: Mapped[str] = mapped_column(StoredString(64), index=True)
    app_version: Mapped[int] = mapped_column(Integer)
    api: Mapped[str] = mapped_column(StoredString(64))
    operation: Mapped[str] = mapped_column(StoredString(100))
    method: Mapped[str] = mapped_column(StoredString(10))
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class EvalRunRow(Base):
    """One eval of an app version: its test cases, each run `samples` times."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    app: Mapped[str] = mapped_column(StoredString(64))
    version: Mapped[int] = mapped_column(Integer)
    # The version whose tests ran (another's, when two versions are compared on one set).
    tests_version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(StoredString(200))
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    judge_model: Mapped[str | None] = mapped_column(StoredString(200))
    judge_prompt: Mapped[str | None] = mapped_column(StoredString(40))
    samples: Mapped[int] = mapped_column(Integer)
    cases: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(StoredString(16))
    error: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[str | None] = mapped_column(StoredString(40))
    # Keep the live APIs' responses with the calls (to declare them as fixed responses).
    record: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class EvalResultRow(Base):
    """One sample of one case: every step's answer and assertion outcomes."""

    __tablename__ = "eval_results"
    __table_args__ = (UniqueConstraint("run_id", "case", "sample", name="uq_eval_result"),)

    id: Mapped[str] = mapped_column(StoredString(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    case: Mapped[str] = mapped_column(StoredString(200))
    sample: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column()
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
