"""Reading app files: YAML documents to `LoadedApp`s, with every problem reported at once.

    SpecInvalid(ValidationFailed)      one or more `SpecProblem`s, one per line of the message

A problem reads `marvin.yaml:7:5: assistants[0].system_promt: unknown key; did you mean
'system_prompt'?`: the file, the line and column of the offending key or value, its path in
the spec (wrapper fields keep their own names: `apiVersion`, `metadata.name`), and what is
wrong. Syntax errors, unknown keys, wrong types, missing fields and duplicate names are all
collected before anything is raised.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from homeport.apps.base import Loc, SpecModel, format_path, show
from homeport.apps.spec import (
    API_VERSION,
    API_VERSIONS,
    KIND,
    AppSpec,
    app_name_from,
    duplicate_problems,
    is_app_name,
    schema_kind,
)
from homeport.errors import ValidationFailed

WRAPPER_KEYS = ("apiVersion", "kind", "metadata", "spec")
MAX_VALUES = 100_000  # per document, aliases expanded: no "billion laughs"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
# Knowledge files read from beside an app file (`source.filestore.path`).
KNOWLEDGE_TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".csv", ".html", ".htm")


@dataclass(frozen=True, slots=True)
class SpecProblem:
    source: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecInvalid(ValidationFailed):
    """An app file has problems; `problems` lists them all, in file order."""

    def __init__(self, problems: Sequence[SpecProblem]):
        self.problems = sorted(problems, key=_file_order)
        super().__init__("\n".join(map(str, self.problems)), param="spec", code="spec_invalid")


def _file_order(problem: SpecProblem) -> tuple[bool, int, int]:
    return problem.line is None, problem.line or 0, problem.column or 0


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value (and the key naming it) is in the file; 1-based."""

    line: int
    column: int
    key_line: int | None = None
    key_column: int | None = None
    text: str | None = None  # a scalar's source text


Places = Mapping[Loc, Place]


@dataclass(frozen=True, slots=True)
class LoadedApp:
    name: str
    spec: AppSpec
    source: str
    document: int = 0
    line: int | None = None
    places: Places = field(default_factory=dict, repr=False, compare=False)

    @property
    def display_name(self) -> str:
        return self.spec.name or self.name

    def problem(self, loc: Loc, message: str) -> SpecProblem:
        """A problem found later (at apply time), placed where `loc` is in the file."""
        return _problem(self.source, self.places, loc, format_path(loc), message)

    def with_files(self, base_dir: Path) -> LoadedApp:
        spec = resolve_files(self.spec, base_dir, source=self.source, places=self.places)
        return replace(self, spec=spec)


# -- entry points ------------------------------------------------------------------------------


def load_documents(text: str, *, source: str) -> list[LoadedApp]:
    """Every app in a YAML text (documents separated by `---`), wrapped or flat form."""
    problems: list[SpecProblem] = []
    apps = [
        app
        for index, document in enumerate(_documents(text, source, problems))
        if (app := _load(document, source=source, index=index, problems=problems))
    ]
    problems.extend(_same_names(apps))
    if not apps and not problems:
        problems.append(SpecProblem(source, None, None, "", "no app in this file"))
    if problems:
        raise SpecInvalid(problems)
    return apps


def load_mapping(data: Any, *, source: str = "<request>") -> LoadedApp:
    """One app from already parsed data (a JSON body), checked as a file's would be."""
    problems: list[SpecProblem] = []
    app = _load(_Document(data, {}, []), source=source, index=0, problems=problems)
    if app is None:
        raise SpecInvalid(problems or [SpecProblem(source, None, None, "", "no app given")])
    return app


def resolve_files(
    spec: AppSpec, base_dir: Path, *, source: str = "<spec>", places: Places | None = None
) -> AppSpec:
    """The spec with each API schema that names a file replaced by the file's text."""
    base = base_dir.resolve()
    problems: list[SpecProblem] = []
    assistants = []
    for i, assistant in enumerate(spec.assistants):
        apis = []
        for j, api in enumerate(assistant.apis):
            if schema_kind(api.api_schema) == "file":
                loc: Loc = ("assistants", i, "apis", j, "schema")
                text, error = _read_schema(base, api.api_schema.strip())
                if error:
                    problems.append(_problem(source, places or {}, loc, format_path(loc), error))
                api = api.model_copy(update={"api_schema": text})
            apis.append(api)
        assistants.append(assistant.model_copy(update={"apis": apis}))
    if problems:
        raise SpecInvalid(problems)
    return spec.model_copy(update={"assistants": assistants})


def spec_with_files(app: LoadedApp, base_dir: Path) -> dict[str, Any]:
    """The spec to send to a server: API schema files read in, and knowledge
    `filestore.path` files read into `text` (text formats only)."""
    spec = app.with_files(base_dir).spec
    data: dict[str, Any] = spec.model_dump(by_alias=True, exclude_defaults=True)
    for assistant in data.get("assistants", []):
        for entry in assistant.get("knowledge", []):
            files = (entry.get("source") or {}).pop("filestore", None)
            if files:
                entry["source"]["text"] = _knowledge_text(base_dir, files["path"], app.source)
    return data


def _knowledge_text(base: Path, relative: str, source: str) -> str:
    path = (base / relative).resolve()
    if path.suffix.lower() not in KNOWLEDGE_TEXT_SUFFIXES:
        raise ValidationFailed(
            f"{source}: knowledge file {relative}: only text files "
            f"({', '.join(KNOWLEDGE_TEXT_SUFFIXES)}) are read from beside an app; upload others "
            "to a knowledge base (`homeport knowledge add`) and name it with `knowledge_base:`"
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"{source}: knowledge file {relative}: {exc}") from exc


def _read_schema(base: Path, relative: str) -> tuple[str, str | None]:
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        return "", f"{show(relative)} is outside {base}; schema files must be inside it"
    if not target.is_file():
        return "", f"no file {show(relative)} (looked for {target})"
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "", f"{show(relative)} is not UTF-8 text"
    except OSError as exc:
        return "", f"cannot read {show(relative)}: {exc.strerror}"
    return (text if text.endswith("\n") else text + "\n"), None


# -- YAML to data and places -------------------------------------------------------------------


@dataclass(slots=True)
class _Document:
    data: Any
    places: dict[Loc, Place]
    duplicates: list[Loc]


def _documents(text: str, source: str, problems: list[SpecProblem]) -> Iterator[_Document]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if _expanded_size(node, {}) > MAX_VALUES:
                mark = node.start_mark
                message = f"more than {MAX_VALUES} values once its aliases (*name) are expanded"
                problems.append(SpecProblem(source, mark.line + 1, mark.column + 1, "", message))
                continue
            places: dict[Loc, Place] = {(): _place(node)}
            duplicates: list[Loc] = []
            _walk(node, (), places, duplicates)
            try:
                data = loader.construct_document(node)
            except yaml.MarkedYAMLError as exc:
                problems.append(_syntax_problem(exc, source))
                continue
            yield _Document(data, places, duplicates)
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_problem(exc, source))
    except RecursionError:
        problems.append(SpecProblem(source, None, None, "", "nested too deeply"))
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values the document holds with every alias expanded (counted once per node)."""
    if id(node) not in sizes:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]


def _syntax_problem(exc: yaml.MarkedYAMLError, source: str) -> SpecProblem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "not YAML"
    if exc.context and exc.problem:
        what = f"{exc.problem} ({exc.context})"
    line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
    return SpecProblem(source, line, column, "", f"YAML syntax error: {what}")


def _place(node: yaml.Node, key: yaml.Node | None = None) -> Place:
    text = node.value if isinstance(node, yaml.ScalarNode) and node.tag != _NULL_TAG else None
    mark = node.start_mark
    key_mark = key.start_mark if key is not None else None
    return Place(
        mark.line + 1,
        mark.column + 1,
        key_mark.line + 1 if key_mark else None,
        key_mark.column + 1 if key_mark else None,
        text,
    )


def _walk(node: yaml.Node, loc: Loc, places: dict[Loc, Place], duplicates: list[Loc]) -> None:
    """Record where every key and value is; merged (`<<`) keys keep their parent's place."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            child = (*loc, key_node.value)
            if key_node.value in seen:
                duplicates.append(child)
            seen.add(key_node.value)
            places[child] = _place(value_node, key_node)
            _walk(value_node, child, places, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            places[(*loc, index)] = _place(item)
            _walk(item, (*loc, index), places, duplicates)


def _problem(
    source: str, places: Places, loc: Loc, path: str, message: str, *, key: bool = False
) -> SpecProblem:
    """A problem at `loc`, or at its nearest ancestor the file shows."""
    for depth in range(len(loc), -1, -1):
        place = places.get(loc[:depth])
        if place is None:
            continue
        if key and depth == len(loc) and place.key_line is not None:
            return SpecProblem(source, place.key_line, place.key_column, path, message)
        return SpecProblem(source, place.line, place.column, path, message)
    return SpecProblem(source, None, None, path, message)


# -- one document ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Reporter:
    """Turns locations in one document into problems; spec paths drop the `spec.` prefix."""

    source: str
    places: Places
    wrapped: bool
    problems: list[SpecProblem]
    count: int = 0

    def at(self, loc: Loc, message: str, *, key: bool = False) -> None:
        path = format_path(loc[1:] if self.wrapped and loc[:1] == ("spec",) and loc[1:] else loc)
        self.problems.append(_problem(self.source, self.places, loc, path, message, key=key))
        self.count += 1

    def at_spec(self, loc: Loc, message: str, *, key: bool = False) -> None:
        self.at((("spec",) if self.wrapped else ()) + loc, message, key=key)


def _load(
    document: _Document, *, source: str, index: int, problems: list[SpecProblem]
) -> LoadedApp | None:
    data = document.data
    if data is None:
        return None
    wrapped = isinstance(data, dict) and any(key in data for key in WRAPPER_KEYS)
    reporter = _Reporter(source, document.places, wrapped, problems)
    if not isinstance(data, dict):
        reporter.at((), f"expected an app (a mapping), got {show(data)}")
        return None
    for loc in document.duplicates:
        reporter.at(loc, "duplicate key", key=True)
    spec_data, metadata_name = _unwrap(data, reporter) if reporter.wrapped else (data, None)
    spec = _validate(spec_data, reporter) if isinstance(spec_data, dict) else None
    name, display = _app_name(metadata_name, spec_data, reporter)
    if spec is None or name is None or reporter.count:
        return None
    if display is not None:
        spec = spec.model_copy(update={"name": display})
    prefix = ("spec",) if reporter.wrapped else ()
    places = {
        loc[len(prefix) :]: place
        for loc, place in document.places.items()
        if loc[: len(prefix)] == prefix
    }
    root = document.places.get(())
    return LoadedApp(name, spec, source, index, root.line if root else None, places)


def _unwrap(data: dict[str, Any], reporter: _Reporter) -> tuple[Any, Any]:
    """The spec and metadata.name of the wrapped form, reporting what is wrong around them."""
    for key in data:
        if key not in WRAPPER_KEYS:
            reporter.at((key,), _unknown_key(key, WRAPPER_KEYS), key=True)
    if data.get("apiVersion") not in API_VERSIONS:
        _expect(data, "apiVersion", API_VERSION, reporter)
    if data.get("kind") != KIND:
        _expect(data, "kind", KIND, reporter)
    if "spec" not in data:
        reporter.at(("spec",), "missing required field")
    elif not isinstance(data["spec"], dict):
        reporter.at(("spec",), f"expected a mapping, got {show(data['spec'])}")
    return data.get("spec"), _metadata_name(data.get("metadata"), reporter)


def _expect(data: dict[str, Any], key: str, wanted: str, reporter: _Reporter) -> None:
    if key not in data:
        reporter.at((key,), "missing required field")
    else:
        reporter.at((key,), f"expected {show(wanted)}, got {show(data[key])}")


def _metadata_name(metadata: Any, reporter: _Reporter) -> Any:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        reporter.at(("metadata",), f"expected a mapping, got {show(metadata)}")
        return None
    for key in metadata:
        if key != "name":
            reporter.at(("metadata", key), _unknown_key(key, ("name",)), key=True)
    name = metadata.get("name")
    if name is not None and not isinstance(name, str):
        reporter.at(("metadata", "name"), f"expected a string, got {show(name)}")
        return None
    return name


def _app_name(
    metadata_name: Any, spec_data: Any, reporter: _Reporter
) -> tuple[str | None, str | None]:
    """The app's name, and a display name for spec.name when metadata.name is one.

    As in Helix, metadata.name wins over spec.name; one that is not an app name
    ('Marvin the Android') becomes the display name and gives the app name 'marvin-the-android'.
    """
    spec_name = spec_data.get("name") if isinstance(spec_data, dict) else None
    raw = metadata_name if metadata_name is not None else spec_name
    loc: Loc = ("metadata", "name") if reporter.wrapped else ("name",)
    if raw is None:
        reporter.at(loc, "missing required field; an app needs a name")
        return None, None
    if not isinstance(raw, str):
        return None, None  # reported as a wrong type already
    if is_app_name(raw):
        return raw, None
    name = app_name_from(raw)
    if not name:
        reporter.at(loc, f"cannot make an app name of {show(raw)}; use letters, digits and '-'")
        return None, None
    return name, (raw if metadata_name is not None else None)


def _same_names(apps: list[LoadedApp]) -> Iterator[SpecProblem]:
    first: dict[str, LoadedApp] = {}
    for app in apps:
        if app.name in first:
            message = (
                f"the app {show(app.name)} is defined twice (first at line {first[app.name].line})"
            )
            yield SpecProblem(app.source, app.line, 1 if app.line else None, "", message)
        else:
            first[app.name] = app


# -- validating the spec -----------------------------------------------------------------------


def _validate(data: dict[str, Any], reporter: _Reporter) -> AppSpec | None:
    """The spec, or None after reporting every problem in it."""
    for loc, message in duplicate_problems(data):
        reporter.at_spec(loc, message)
    try:
        spec = AppSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        restored = _restore_scalar_text(data, errors, reporter)
        if restored is None:
            _report(errors, reporter)
            return None
        try:
            spec = AppSpec.model_validate(restored)
        except ValidationError as again:
            _report(again.errors(), reporter)
            return None
    return spec


def _restore_scalar_text(
    data: dict[str, Any], errors: list[ErrorDetails], reporter: _Reporter
) -> dict[str, Any] | None:
    """Where a string was wanted and YAML read a number, date or boolean, use the text written.

    Helix (Go) reads `expected_output: 4` as the string "4"; so does this. None when no
    such value was found.
    """
    restored: dict[str, Any] | None = None
    prefix: Loc = ("spec",) if reporter.wrapped else ()
    for error in errors:
        place = reporter.places.get(prefix + error["loc"])
        if error["type"] != "string_type" or place is None or place.text is None:
            continue
        if isinstance(error["input"], dict | list):
            continue
        restored = restored if restored is not None else copy.deepcopy(data)
        _set(restored, error["loc"], place.text)
    return restored


def _set(data: Any, loc: Loc, value: str) -> None:
    for part in loc[:-1]:
        data = data[part]
    data[loc[-1]] = value


def _report(errors: list[ErrorDetails], reporter: _Reporter) -> None:
    for error in errors:
        loc = tuple(part for part in error["loc"] if part != "[key]")
        key = error["type"] == "extra_forbidden" or loc != error["loc"]
        reporter.at_spec(loc, _message(error, loc), key=key)


_EXPECTED = {
    "string_type": "a string",
    "float_type": "a number",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "more than"),
    "less_than": ("lt", "less than"),
}


def _message(error: ErrorDetails, loc: Loc) -> str:
    kind, ctx, got = error["type"], error.get("ctx") or {}, show(error["input"])
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        return _extra_key_message(loc)
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {got}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        return f"must be {words} {show(_whole(ctx[bound]))}, got {got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        count = ctx["min_length"]
        return f"needs at least {count} {'item' if count == 1 else 'items'}"
    return error["msg"]


def _whole(number: Any) -> Any:
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _extra_key_message(loc: Loc) -> str:
    model = _model_at(AppSpec, loc[:-1])
    key = loc[-1]
    if model is None or not isinstance(key, str):
        return "unknown key"
    if key in model.helix_unsupported:
        return f"a Helix field Homeport does not support ({model.helix_unsupported[key]})"
    return _unknown_key(key, _keys(model), model.key_hints)


def _unknown_key(key: Any, valid: Sequence[str], hints: Mapping[str, str] | None = None) -> str:
    hint = (hints or {}).get(key) if isinstance(key, str) else None
    close = difflib.get_close_matches(key, valid, n=1) if isinstance(key, str) else []
    if hint or close:
        return f"unknown key; did you mean {show(hint or close[0])}?"
    return f"unknown key; expected one of: {', '.join(valid)}"


def _keys(model: type[SpecModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_at(root: type[SpecModel], loc: Loc) -> type[SpecModel] | None:
    """The model that validates the mapping at `loc`, by walking field annotations."""
    current: Any = root
    for part in loc:
        current = _optional_inner(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {info.alias or name: info for name, info in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[str(part)].annotation
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _optional_inner(current)
    return current if isinstance(current, type) and issubclass(current, SpecModel) else None


def _optional_inner(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, type(int | None)):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
