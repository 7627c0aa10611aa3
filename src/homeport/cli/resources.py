"""Reading YAML resources for `homeport apply`: files, directories or stdin.

Apps (`kind: AIApp`, or Helix's flat form) are checked here first, so that every problem is
reported with its file and line before anything is sent; files they name (API schemas,
knowledge files) are read relative to the YAML file. Their `${NAME}` placeholders are left
for the server's secret store. In other kinds, `${NAME}` is the environment variable NAME.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from homeport.apps.loading import load_documents, spec_with_files
from homeport.errors import ValidationFailed

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
YAML_SUFFIXES = (".yaml", ".yml")
APP_KIND = "AIApp"
API_VERSION = "app.aispec.org/v1alpha1"


def load_resources(sources: list[str]) -> list[dict[str, Any]]:
    """Every document in the given files (directories: their *.yaml files; `-`: stdin)."""
    resources: list[dict[str, Any]] = []
    for source, text in _texts(sources):
        resources += _documents(source, text)
    return resources


def is_app(document: Any) -> bool:
    """An app: `kind: AIApp`, or Helix's flat form (no kind, with assistants)."""
    if not isinstance(document, dict):
        return False
    return document.get("kind") == APP_KIND or ("kind" not in document and "assistants" in document)


def _apps(source: str, text: str) -> list[dict[str, Any]]:
    base = Path(source).parent if source != "<stdin>" else Path.cwd()
    return [
        {
            "apiVersion": API_VERSION,
            "kind": APP_KIND,
            "metadata": {"name": app.name},
            "spec": spec_with_files(app, base),
        }
        for app in load_documents(text, source=source)
    ]


def _texts(sources: list[str]) -> list[tuple[str, str]]:
    texts = []
    for source in sources:
        if source == "-":
            texts.append(("<stdin>", sys.stdin.read()))
            continue
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES)
            texts += [(str(p), p.read_text()) for p in files]
        elif path.is_file():
            texts.append((str(path), path.read_text()))
        else:
            raise ValidationFailed(f"{source}: no such file or directory")
    return texts


def _documents(source: str, text: str) -> list[dict[str, Any]]:
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{source}: not valid YAML: {exc}") from exc
    if documents and all(is_app(d) for d in documents):
        return _apps(source, text)
    resources = []
    for index, document in enumerate(documents):
        if is_app(document):
            raise ValidationFailed(
                f"{source}: keep apps in files of their own (document {index + 1})"
            )
        if not isinstance(document, dict) or "kind" not in document:
            raise ValidationFailed(f"{source}: document {index + 1} has no 'kind'")
        resources.append(expand_references(document, source=source))
    return resources


def git_context(sources: list[str]) -> dict[str, str]:
    """The commit, branch and remote of the git work tree the first file is in, if any."""
    files = [Path(s) for s in sources if s != "-"]
    if not files:
        return {}
    where = files[0] if files[0].is_dir() else files[0].parent
    found = {
        "commit": _git(where, "rev-parse", "HEAD"),
        "branch": _git(where, "rev-parse", "--abbrev-ref", "HEAD"),
        "remote": _without_credentials(_git(where, "config", "--get", "remote.origin.url")),
    }
    return {k: v for k, v in found.items() if v} if found["commit"] else {}


def _git(where: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _without_credentials(url: str) -> str:
    """A remote URL without a user or token in it (https://user:token@host/...)."""
    return re.sub(r"^(\w+://)[^/@]*@", r"\1", url)


def expand_references(value: Any, *, source: str) -> Any:
    """Replace `${NAME}` with the environment variable NAME; a missing one is an error."""
    if isinstance(value, dict):
        return {k: expand_references(v, source=source) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_references(v, source=source) for v in value]
    if isinstance(value, str):
        missing = [name for name in REFERENCE.findall(value) if name not in os.environ]
        if missing:
            raise ValidationFailed(
                f"{source}: environment variable(s) not set: {', '.join(missing)}"
            )
        return REFERENCE.sub(lambda m: os.environ[m.group(1)], value)
    return value
