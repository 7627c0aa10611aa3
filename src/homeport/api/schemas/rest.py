"""Bodies of the REST API under /api/v1 (strict: unknown fields are errors)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from homeport.api.schemas.feedback import MessageFeedbackOut
from homeport.domain.audit import AuditEvent
from homeport.domain.feedback import Feedback
from homeport.domain.sessions import ChatSession, Citation, StoredMessage
from homeport.domain.users import ApiKey, User
from homeport.services.providers import ProviderStatus

Role = Literal["admin", "user"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- users and keys ----------------------------------------------------------------------


USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
EMAIL = r"^[^@\s]+@[^@\s]+$"
# Long enough for any passphrase; the server checks the minimum length itself.
PasswordStr = Annotated[str, Field(min_length=1, max_length=1024)]


class UserCreate(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=USER_NAME)
    email: str | None = Field(default=None, max_length=320)
    roles: list[Role] = Field(default_factory=lambda: list[Role](["user"]))
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="An initial password; without one, the user cannot sign in with a "
        "password until an admin sets one.",
    )
    display_name: str | None = Field(default=None, max_length=200)


class UserUpdate(Strict):
    disabled: bool | None = Field(
        default=None, description="Disabling signs the user out and stops their keys at once."
    )
    roles: list[Role] | None = Field(default=None, min_length=1)
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class UserOut(BaseModel):
    id: str
    name: str
    email: str | None
    roles: list[str]
    disabled: bool
    created_at: datetime
    display_name: str | None = None
    source: str = Field(default="admin", description="bootstrap, admin, register or oidc")
    has_password: bool = False
    last_login_at: datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            name=user.name,
            email=user.email,
            roles=list(user.roles),
            disabled=user.disabled,
            created_at=user.created_at,
            display_name=user.display_name,
            source=user.source,
            has_password=user.has_password,
            last_login_at=user.last_login_at,
        )


class UserDeletedOut(BaseModel):
    id: str
    name: str
    deleted: Literal[True] = True
    transferred_to: str | None = Field(description="The user who now owns their data")
    chat_sessions: int = Field(description="Chat sessions moved to transferred_to, or deleted")


class PasswordReset(Strict):
    new_password: PasswordStr


# -- sign-in (browser sessions) and server settings --------------------------------------


class RegisterIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=USER_NAME)
    password: PasswordStr
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL)
    display_name: str | None = Field(default=None, max_length=200)


class LoginIn(Strict):
    name: str = Field(min_length=1, max_length=320, description="User name or email")
    password: PasswordStr


class PasswordChange(Strict):
    current_password: str | None = Field(
        default=None, max_length=1024, description="Needed when the account has a password"
    )
    new_password: PasswordStr


class SignedInOut(BaseModel):
    user: UserOut
    csrf_token: str | None = Field(
        description="Send it as X-CSRF-Token on unsafe requests made with the session "
        "cookie (null when signed in with an API key)"
    )
    expires_at: datetime | None = None
    via: Literal["session", "key"] = "session"


class SsoOptionOut(BaseModel):
    name: str
    label: str
    login_url: str


class AuthOptionsOut(BaseModel):
    registration: Literal["open", "closed"]
    sso: list[SsoOptionOut]


class ServerSettingsOut(BaseModel):
    registration: Literal["open", "closed"]
    outbound_allow: list[str] = Field(
        description="Private hosts, host:port pairs or CIDRs that fetches may reach, besides "
        "HOMEPORT_OUTBOUND_ALLOW"
    )


class ServerSettingsIn(Strict):
    registration: Literal["open", "closed"] | None = None
    outbound_allow: list[str] | None = Field(default=None, max_length=500)


class KeyCreate(Strict):
    name: str = Field(default="default", min_length=1, max_length=100)
    user: str | None = Field(default=None, description="User id or name (admins only)")
    expires_at: datetime | None = None
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)
    scopes: list[str] = Field(
        default_factory=list,
        description="Limit the key: inference, sessions, read, app:<name>. None: all its "
        "owner may do.",
        max_length=20,
    )


class KeyOut(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            user_id=key.user_id,
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. Shown once; store it now.")


# -- providers -------------------------------------------------------------------------


class ProviderIn(Strict):
    name: str
    kind: Literal["openai", "ollama"] = "openai"
    base_url: str = Field(min_length=1, max_length=2048)
    api_key: str | None = Field(default=None, max_length=4096)
    models: list[str] | None = Field(default=None, description="Allow-list of upstream model ids")
    options: dict[str, Any] = Field(default_factory=dict)


class ProviderOut(BaseModel):
    name: str
    kind: str
    base_url: str
    source: str
    has_api_key: bool
    models_allowed: list[str] | None
    models: list[str]
    status: Literal["ok", "error"]
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, status: ProviderStatus) -> ProviderOut:
        config = status.config
        return cls(
            name=status.name,
            kind=status.kind,
            base_url=status.base_url,
            source=status.source,
            has_api_key=bool(config and config.has_api_key),
            models_allowed=list(config.models_allowed)
            if config and config.models_allowed
            else None,
            models=[m.id for m in status.models],
            status="error" if status.error else "ok",
            error=status.error,
            created_at=config.created_at if config else None,
            updated_at=config.updated_at if config else None,
        )


# -- sessions --------------------------------------------------------------------------


KnowledgeRefs = Annotated[
    list[str],
    Field(max_length=50, description="Knowledge bases (ids or names) answers are grounded in"),
]


class SessionCreate(Strict):
    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=300)
    system_prompt: str | None = Field(default=None, max_length=100_000)
    knowledge: KnowledgeRefs = Field(default_factory=list)


class SessionUpdate(Strict):
    title: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=300)
    knowledge: KnowledgeRefs | None = None


class CitationOut(BaseModel):
    """A source an answer was grounded in, numbered as the model saw it."""

    index: int
    source: str = Field(description="The URL or the file name")
    title: str | None
    section: str | None
    page: int | None
    location: str | None = Field(description="Section and page, for display")
    snippet: str = Field(description="The exact passage the model was shown")
    url: str | None = Field(
        description="Opens the source (the stored file at #page=N for a PDF); none for text"
    )
    knowledge_base: str
    document_id: str
    chunk_id: str
    score: float
    cited: bool = Field(description="Whether the answer wrote [index]")

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(**citation.to_dict())


class MessageOut(BaseModel):
    id: str
    role: str
    content: str
    status: str
    error: str | None
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    time_to_first_token_ms: int | None
    duration_ms: int | None
    finish_reason: str | None
    reply_to: str | None = Field(description="The user message an answer replies to")
    citations: list[CitationOut] = Field(default_factory=list)
    api_calls: list[dict[str, Any]] | None = Field(
        default=None, description="An app's answer: the API calls its assistant made"
    )
    created_at: datetime
    feedback: MessageFeedbackOut | None = Field(
        default=None, description="Your rating of this answer, if you rated it"
    )

    @classmethod
    def of(cls, m: StoredMessage, feedback: Feedback | None = None) -> MessageOut:
        return cls(
            id=m.id,
            role=m.role,
            content=m.content,
            status=m.status,
            error=m.error,
            model=m.model,
            prompt_tokens=m.prompt_tokens,
            completion_tokens=m.completion_tokens,
            time_to_first_token_ms=m.time_to_first_token_ms,
            duration_ms=m.duration_ms,
            finish_reason=m.finish_reason,
            reply_to=m.reply_to,
            citations=[CitationOut.of(c) for c in m.citations],
            api_calls=list(m.api_calls) or None,
            created_at=m.created_at,
            feedback=MessageFeedbackOut.of(feedback) if feedback else None,
        )


class SessionOut(BaseModel):
    id: str
    title: str
    model: str | None
    system_prompt: str | None
    knowledge: list[str] = Field(description="Ids of the knowledge bases it is grounded in")
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut] | None = None

    @classmethod
    def of(
        cls,
        s: ChatSession,
        messages: list[StoredMessage] | None = None,
        feedback: Mapping[str, Feedback] | None = None,
    ) -> SessionOut:
        """`feedback`: the caller's, by message id."""
        rated = feedback or {}
        return cls(
            id=s.id,
            title=s.title,
            model=s.model,
            system_prompt=s.system_prompt,
            knowledge=list(s.knowledge),
            created_at=s.created_at,
            updated_at=s.updated_at,
            messages=[MessageOut.of(m, rated.get(m.id)) for m in messages]
            if messages is not None
            else None,
        )


class SessionPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[SessionOut]
    has_more: bool
    last_id: str | None


class RegenerateIn(Strict):
    model: str | None = Field(default=None, description="Default: the old answer's model")
    stream: bool = True
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None


class ChatIn(Strict):
    content: str = Field(min_length=1, max_length=1_000_000)
    model: str | None = None
    stream: bool = True
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    knowledge: KnowledgeRefs | None = Field(
        default=None, description="Ground this answer in these bases instead of the session's"
    )


class TurnOut(BaseModel):
    session_id: str
    model: str
    user_message: MessageOut
    assistant_message: MessageOut
    citations: list[CitationOut] = Field(default_factory=list)
    # The API calls an app's assistant made for this answer (docs/tools.md).
    api_calls: list[dict[str, Any]] | None = None


# -- apply --------------------------------------------------------------------------------


class ResourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_version: str = Field(default="homeport.dev/v1", alias="apiVersion")
    kind: str = Field(min_length=1)
    metadata: dict[str, Any]
    spec: dict[str, Any] = Field(default_factory=dict)


class ApplyIn(Strict):
    resources: list[ResourceIn] = Field(min_length=1, max_length=500)
    dry_run: bool = False
    version_label: str | None = Field(default=None, max_length=200)
    git: dict[str, str] | None = Field(
        default=None, description="commit, branch and remote of the work tree applied from"
    )


class ApplyResultOut(BaseModel):
    kind: str
    name: str
    action: str
    dry_run: bool
    version: int | None = Field(default=None, description="An app's version after applying")
    diff: str | None = Field(default=None, description="What changed, as a unified diff")


# -- audit --------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    id: str
    at: datetime
    action: str
    outcome: str
    actor_user_id: str | None
    actor_key_id: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            at=event.at,
            action=event.action,
            outcome=event.outcome,
            actor_user_id=event.actor_user_id,
            actor_key_id=event.actor_key_id,
            target_type=event.target_type,
            target_id=event.target_id,
            ip=event.ip,
            details=event.details,
        )


class AuditPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEventOut]
    has_more: bool
    last_id: str | None
