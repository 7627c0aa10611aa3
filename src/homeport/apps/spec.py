"""The app spec: what an app file says, as pydantic models (pure values, no I/O).

The format is Helix's aispec, field for field: the wrapped form

    apiVersion: app.aispec.org/v1alpha1
    kind: AIApp
    metadata: {name: marvin}
    spec: {assistants: [{model: ..., system_prompt: ...}]}

or Helix's flat form (the spec's fields at the top level). Unlike Helix, an unknown key is
an error. A Helix field Homeport lacks is refused by name, unless it is empty: Helix's own
exports write every field, most of them empty. `homeport.apps.loading` reads YAML into
these models and reports problems with their line and column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar, Literal

from croniter import croniter
from pydantic import (
    AfterValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from homeport.apps.base import Loc, SpecModel, Text, format_path, show
from homeport.apps.cases import TestSpec
from homeport.domain.secrets import references

API_VERSION = "app.aispec.org/v1alpha1"
# Helix's own examples also write v1 (examples/crd/bitcoin.yaml); Helix reads both the same.
API_VERSIONS = (API_VERSION, "app.aispec.org/v1")
KIND = "AIApp"

SchemaKind = Literal["inline", "file", "url"]

_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
SCHEMA_FILE_SUFFIXES = (".yaml", ".yml", ".json")

# fmt: off
_AGENT_FIELDS = (
    "agent_mode", "agent_type", "max_iterations", "reasoning_model", "reasoning_model_provider",
    "reasoning_model_effort", "generation_model", "generation_model_provider",
    "small_reasoning_model", "small_reasoning_model_provider", "small_reasoning_model_effort",
    "small_generation_model", "small_generation_model_provider",
)
_SKILLS = (
    "zapier", "mcps", "browser", "web_search", "calculator", "email", "azure_devops",
    "project_manager",
)
# fmt: on


def _check_url(value: str) -> str:
    if "${" not in value and not _URL.match(value):
        raise PydanticCustomError(
            "url", "expected an http or https URL, got {got}", {"got": show(value)}
        )
    return value


def _check_cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise PydanticCustomError(
            "cron",
            "{got} is not a cron schedule (e.g. '0 3 * * *' for 03:00 every day)",
            {"got": show(value)},
        )
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Cron = Annotated[str, AfterValidator(_check_cron)]


# -- knowledge ---------------------------------------------------------------------------------


class CrawlerSpec(SpecModel):
    """How far to follow links from `web.urls` (Helix's `WebsiteCrawler`)."""

    helix_unsupported: ClassVar[dict[str, str]] = {
        "firecrawl": "crawling through Firecrawl",
        "user_agent": "a custom user agent",
        "readability": "the readability filter; Homeport always extracts the main content",
    }

    enabled: bool = Field(False, description="Follow links; false fetches only the URLs given.")
    max_depth: int | None = Field(
        None, ge=0, le=10, description="Links deep to follow; absent: the server's default."
    )
    max_pages: int | None = Field(
        None, ge=1, le=10_000, description="Pages to fetch, at most (a Homeport extension)."
    )
    ignore_robots_txt: bool = Field(False, description="Fetch pages robots.txt disallows.")


class WebSource(SpecModel):
    helix_unsupported: ClassVar[dict[str, str]] = {
        "excludes": "URL patterns to skip while crawling",
        "auth": "basic authentication for crawled sites",
    }

    urls: list[Url] = Field(min_length=1, description="Pages to fetch (http or https).")
    crawler: CrawlerSpec | None = None


class FilestoreSource(SpecModel):
    helix_unsupported: ClassVar[dict[str, str]] = {"seed_zip_url": "seeding from a zip URL"}

    path: Text = Field(
        description="A file, folder or glob relative to the app file; `homeport apply` uploads it."
    )


class KnowledgeSource(SpecModel):
    """Where a knowledge base's documents come from; any combination of the three."""

    helix_unsupported: ClassVar[dict[str, str]] = {
        "s3": "Amazon S3 sources",
        "gcs": "Google Cloud Storage sources",
        "sharepoint": "SharePoint sources",
    }
    key_hints: ClassVar[dict[str, str]] = {"content": "text", "files": "filestore"}

    web: WebSource | None = None
    text: Text | None = Field(None, description="Inline text, indexed as one document.")
    filestore: FilestoreSource | None = None

    @model_validator(mode="after")
    def _needs_one(self) -> KnowledgeSource:
        if self.web is None and self.text is None and self.filestore is None:
            raise PydanticCustomError("knowledge_source", "needs web, text or filestore")
        return self


class RagSettings(SpecModel):
    """Retrieval (results_count, threshold) and chunking (chunk_size, chunk_overflow)."""

    helix_unsupported: ClassVar[dict[str, str]] = {
        "distance_function": "choosing the distance function",
        "text_splitter": "choosing the text splitter",
        "disable_chunking": "indexing files unchunked",
        "disable_downloading": "indexing URLs without fetching them",
        "prompt_template": "a custom RAG prompt template",
        "enable_vision": "the vision pipeline",
        "index_url": "an external RAG service",
        "query_url": "an external RAG service",
        "delete_url": "an external RAG service",
    }
    key_hints: ClassVar[dict[str, str]] = {
        "chunk_overlap": "chunk_overflow",
        "top_k": "results_count",
    }

    results_count: int | None = Field(None, ge=1, le=100, description="Passages per question.")
    threshold: float | None = Field(
        None, ge=0, le=1, description="Minimum similarity of a passage (Homeport's meaning)."
    )
    chunk_size: int | None = Field(None, ge=32, le=8192, description="Chunk size, in tokens.")
    chunk_overflow: int | None = Field(
        None, ge=0, le=4096, description="Overlap between chunks, in tokens (Helix's name)."
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagSettings:
        size, overlap = self.chunk_size, self.chunk_overflow
        if size is not None and overlap is not None and overlap >= size:
            raise PydanticCustomError("chunking", "chunk_overflow must be below chunk_size")
        return self


class KnowledgeSpec(SpecModel):
    """Knowledge from inline sources (as in Helix), or a reference to an existing base."""

    name: Text | None = Field(None, description="Unique in the app; required with a source.")
    description: str | None = Field(None, description="Tells the model what the knowledge is.")
    knowledge_base: Text | None = Field(
        None, description="An existing knowledge base, by name or id, instead of a source."
    )
    access: Literal["app", "caller"] = Field(
        "app",
        description="app: whoever may use the app may retrieve from it (attaching is "
        "sharing); caller: retrieval with the caller's own rights.",
    )
    source: KnowledgeSource | None = None
    rag_settings: RagSettings | None = None
    refresh_enabled: bool = Field(False, description="Refresh on refresh_schedule.")
    refresh_schedule: Cron | None = Field(None, description="A cron schedule, e.g. '0 3 * * *'.")

    @model_validator(mode="after")
    def _source_or_reference(self) -> KnowledgeSpec:
        if (self.source is None) == (self.knowledge_base is None):
            raise PydanticCustomError(
                "knowledge", "give either a source or a knowledge_base (an existing base)"
            )
        if self.source is not None and self.name is None:
            raise PydanticCustomError("knowledge", "knowledge with a source needs a name")
        if self.knowledge_base is not None:
            _check_reference(self)
        if self.refresh_enabled and self.refresh_schedule is None:
            raise PydanticCustomError("knowledge", "refresh_enabled needs a refresh_schedule")
        return self


def _check_reference(spec: KnowledgeSpec) -> None:
    rag = spec.rag_settings
    chunking = rag is not None and (rag.chunk_size, rag.chunk_overflow) != (None, None)
    if chunking or spec.refresh_enabled or spec.refresh_schedule is not None:
        raise PydanticCustomError(
            "knowledge",
            "chunking and refreshing belong to the knowledge base '{base}'; set them there",
            {"base": spec.knowledge_base},
        )


# -- APIs and tests ----------------------------------------------------------------------------


def schema_kind(schema: str | dict[str, Any]) -> SchemaKind:
    """Helix's rule: a URL is fetched, one other line names a file, anything else is the text."""
    if isinstance(schema, dict):
        return "inline"
    text = schema.strip()
    if "\n" in text or text.startswith("{"):
        return "inline"
    return "url" if _URL.match(text) else "file"


class ApiAuth(SpecModel):
    """The calling user's own credential for an API, instead of one shared by the app.

    `oauth2`: the user's OAuth2 connection to `provider` (an admin configures providers);
    `token`: a personal token each user stores under `connection` (default: the API's name).
    Either way, the token goes in `header` after `scheme`; a user without one is asked to
    connect, and no call is made.
    """

    type: Literal["oauth2", "token"]
    provider: Text | None = Field(None, description="The OAuth2 provider (oauth2).")
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes to ask for.")
    connection: Text | None = Field(None, description="The personal token's name (token).")
    header: Text = Field("Authorization", description="The header that carries the token.")
    scheme: str = Field("Bearer", description="Written before the token; '' for none.")

    @model_validator(mode="after")
    def _provider_for_oauth(self) -> ApiAuth:
        if self.type == "oauth2" and self.provider is None:
            raise PydanticCustomError("auth", "type oauth2 needs a provider")
        if self.type == "oauth2" and self.connection is not None:
            raise PydanticCustomError("auth", "connection names a personal token (type token)")
        if self.type == "token" and (self.provider is not None or self.scopes):
            raise PydanticCustomError("auth", "provider and scopes belong to type oauth2")
        return self


class ApiSpec(SpecModel):
    """An HTTP API the assistant may call, described by an OpenAPI schema."""

    helix_neutral: ClassVar[dict[str, Any]] = {"transform_output": True}
    helix_unsupported: ClassVar[dict[str, str]] = {
        "transform_output": "answering with the raw JSON response",
    }

    name: Text
    description: str | None = Field(None, description="Tells the model when to call the API.")
    url: Url | None = Field(None, description="The API's base URL; absent: the schema's server.")
    api_schema: Annotated[
        Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "object"}]})
    ] = Field(
        alias="schema",
        description="OpenAPI as text or a mapping, a file relative to the app file "
        "(.yaml, .yml or .json), or an http(s) URL.",
    )
    operations: list[Text] = Field(
        default_factory=list,
        description="The operations (by operationId or tool name) the assistant may call; "
        "empty: every operation in the schema.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Sent with every call.")
    query: dict[str, str] = Field(default_factory=dict, description="Added to every call.")
    path_params: dict[str, str] = Field(
        default_factory=dict, description="Substituted into every path."
    )
    system_prompt: str | None = Field(None, description="Guidance for using this API.")
    auth: ApiAuth | None = Field(None, description="Call with the user's own credential.")
    oauth_provider: Text | None = Field(None, description="Helix's form of auth.type oauth2.")
    oauth_scopes: list[str] = Field(default_factory=list, description="With oauth_provider.")
    skip_unknown_keys: bool = Field(
        False, description="Keep only the response fields its schema names."
    )
    request_prep_template: str | None = Field(
        None, description="The prompt that extracts an operation's arguments (pipeline)."
    )
    response_success_template: str | None = Field(
        None, description="The prompt that turns a response into the answer."
    )
    response_error_template: str | None = Field(
        None, description="The prompt that explains a failed call."
    )
    response_template: str | None = Field(
        None, description="A template of the answer itself (Jinja: data, status, operation)."
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_oauth(cls, data: Any) -> Any:
        """Helix's exports write `oauth_provider: ""` and `oauth_scopes: []` for no OAuth."""
        if not isinstance(data, dict):
            return data
        empty = {k for k in ("oauth_provider", "oauth_scopes") if data.get(k) in ("", [])}
        return {k: v for k, v in data.items() if k not in empty}

    @property
    def user_auth(self) -> ApiAuth | None:
        """`auth`, or Helix's `oauth_provider` and `oauth_scopes` as the same thing."""
        if self.oauth_provider is None:
            return self.auth
        return ApiAuth(type="oauth2", provider=self.oauth_provider, scopes=self.oauth_scopes)

    @model_validator(mode="after")
    def _one_auth(self) -> ApiSpec:
        if self.oauth_provider is not None and self.auth is not None:
            raise PydanticCustomError("auth", "give auth or oauth_provider, not both")
        if self.oauth_scopes and self.oauth_provider is None:
            raise PydanticCustomError("auth", "oauth_scopes needs oauth_provider")
        return self

    @field_validator("api_schema")
    @classmethod
    def _check_schema(cls, value: Any) -> Any:
        if isinstance(value, dict) and value:
            return value
        if not isinstance(value, str) or not value.strip():
            raise PydanticCustomError(
                "api_schema",
                "expected OpenAPI text or mapping, a file path or a URL, got {got}",
                {"got": show(value)},
            )
        if schema_kind(value) == "file" and not value.strip().endswith(SCHEMA_FILE_SUFFIXES):
            raise PydanticCustomError(
                "api_schema",
                "a one-line schema names a file, which must end in .yaml, .yml or .json",
            )
        return value


# -- assistants and apps -----------------------------------------------------------------------


class AssistantSpec(SpecModel):
    helix_unsupported: ClassVar[dict[str, str]] = {
        "type": "assistant types other than text",
        **dict.fromkeys(_AGENT_FIELDS, "Helix's agent mode"),
        "code_agent_runtime": "Helix's code agents",
        "code_agent_credential_type": "Helix's code agents",
        "claude_subscription_model": "Helix's code agents",
        "goose_recipe_repo_url": "Helix's code agents",
        "goose_recipes": "Helix's code agents",
        "rag_source_id": "Helix's internal RAG source ids; use knowledge",
        "lora_id": "fine-tuned LoRA adapters",
        "memory": "memory across sessions",
        "context_limit": "limiting the messages in context",
        "tools": "Helix's derived tool list; describe APIs under apis",
        "gptscripts": "GPTScript tools",
        **dict.fromkeys(_SKILLS, "Helix's built-in skills; describe HTTP APIs under apis"),
    }
    helix_neutral: ClassVar[dict[str, Any]] = {"type": "text"}
    key_hints: ClassVar[dict[str, str]] = {"prompt": "system_prompt"}

    id: Text | None = Field(None, description="Names the assistant in app/<app>/<id>.")
    name: str | None = None
    description: str | None = None
    avatar: str | None = None
    image: str | None = None
    provider: str | None = Field(None, description="A provider's name, to route the model.")
    model: str | None = Field(
        None, description="A model id; absent: the server's default model when applied."
    )
    system_prompt: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    conversation_starters: list[str] = Field(default_factory=list)
    knowledge: list[KnowledgeSpec] = Field(default_factory=list)
    apis: list[ApiSpec] = Field(default_factory=list)
    api_strategy: Literal["auto", "function_calling", "pipeline"] = Field(
        "auto",
        description="How the model calls the APIs: function_calling (a loop of tool calls), "
        "pipeline (classify, extract, call, summarise: for small and base models), or auto "
        "(function calling when the model supports tools).",
    )
    max_tool_steps: int = Field(
        5, ge=1, le=20, description="Rounds of tool calls per answer (function_calling)."
    )
    is_actionable_template: str | None = Field(
        None, description="The prompt that decides which operation, if any, a request needs."
    )
    is_actionable_history_length: int | None = Field(
        None, ge=0, le=50, description="Earlier messages that prompt sees (default 4)."
    )
    tests: list[TestSpec] = Field(default_factory=list)


class AppSpec(SpecModel):
    """An app: one or more assistants, with a name and looks for the UI."""

    helix_unsupported: ClassVar[dict[str, str]] = {
        "avatar_content_type": "uploaded avatar images",
        "external_url": "an external URL for the app",
        "triggers": "Slack, Discord, Teams, cron and other triggers",
        "default_agent_type": "Helix's agent mode",
        "external_agent_enabled": "Helix's external agents",
        "external_agent_config": "Helix's external agents",
    }

    name: str | None = Field(None, description="The display name; metadata.name names the app.")
    description: str | None = None
    avatar: str | None = Field(None, description="An image URL or an emoji.")
    image: str | None = Field(None, description="A background image URL.")
    assistants: list[AssistantSpec] = Field(min_length=1)


# -- names -------------------------------------------------------------------------------------


def is_app_name(text: str) -> bool:
    """Lower-case letters, digits, '-', '_' and '.', starting with a letter or digit."""
    return bool(_APP_NAME.match(text))


def app_name_from(text: str) -> str:
    """An app name for a display name: 'Marvin the Android' gives 'marvin-the-android'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.]+", "-", plain.lower()).strip("-_.")
    return slug[:63].rstrip("-_.")


def duplicate_problems(data: Any) -> list[tuple[Loc, str]]:
    """Names that must be unique, in spec data however malformed: assistant ids and names,
    knowledge names (across the app), API and test names (within an assistant)."""
    assistants = list(enumerate(_items(data, "assistants")))
    groups: list[tuple[str, list[tuple[Loc, Any]]]] = [
        ("id", [(("assistants", i, "id"), a.get("id")) for i, a in assistants]),
        ("name", [(("assistants", i, "name"), a.get("name")) for i, a in assistants]),
        ("name", [item for i, a in assistants for item in _knowledge_names(i, a)]),
    ]
    for i, a in assistants:
        for part in ("apis", "tests"):
            names: list[tuple[Loc, Any]] = [
                (("assistants", i, part, j, "name"), x.get("name"))
                for j, x in enumerate(_items(a, part))
            ]
            groups.append(("name", names))
    return [problem for what, items in groups for problem in _duplicates(items, what)]


def _items(data: Any, key: str) -> list[dict[str, Any]]:
    value = data.get(key) if isinstance(data, dict) else None
    return (
        [item if isinstance(item, dict) else {} for item in value]
        if isinstance(value, list)
        else []
    )


def _knowledge_names(index: int, assistant: dict[str, Any]) -> Iterator[tuple[Loc, Any]]:
    for k, knowledge in enumerate(_items(assistant, "knowledge")):
        field = "name" if knowledge.get("name") is not None else "knowledge_base"
        yield ("assistants", index, "knowledge", k, field), knowledge.get(field)


def _duplicates(items: list[tuple[Loc, Any]], what: str) -> Iterator[tuple[Loc, str]]:
    first: dict[str, Loc] = {}
    for loc, value in items:
        if not isinstance(value, str):
            continue
        if value in first:
            yield loc, f"{show(value)} is already the {what} of {format_path(first[value][:-1])}"
        else:
            first[value] = loc


# -- references --------------------------------------------------------------------------------


def secret_references(spec: AppSpec) -> set[str]:
    """The NAMEs of `${NAME}` placeholders in the spec's strings (resolved by the server)."""
    return set(references(spec.model_dump(by_alias=True)))


def file_references(spec: AppSpec) -> list[tuple[str, str]]:
    """(path in the spec, file path) for values naming files relative to the app file."""
    return [(format_path(loc), path) for loc, path in file_reference_locs(spec)]


def file_reference_locs(spec: AppSpec) -> list[tuple[Loc, str]]:
    refs: list[tuple[Loc, str]] = []
    for i, assistant in enumerate(spec.assistants):
        for j, api in enumerate(assistant.apis):
            if schema_kind(api.api_schema) == "file":
                refs.append((("assistants", i, "apis", j, "schema"), api.api_schema.strip()))
        for k, knowledge in enumerate(assistant.knowledge):
            store = knowledge.source.filestore if knowledge.source else None
            if store is not None:
                loc: Loc = ("assistants", i, "knowledge", k, "source", "filestore", "path")
                refs.append((loc, store.path))
    return refs
