"""Reading YAML resources for `homeport apply`: files, directories or stdin."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from homeport.errors import ValidationFailed

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
YAML_SUFFIXES = (".yaml", ".yml")


def load_resources(sources: list[str]) -> list[dict[str, Any]]:
    """Every document in the given files (directories: their *.yaml files; `-`: stdin)."""
    resources: list[dict[str, Any]] = []
    for source, text in _texts(sources):
        resources += _documents(source, text)
    return resources


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
    for index, document in enumerate(documents):
        if not isinstance(document, dict) or "kind" not in document:
            raise ValidationFailed(f"{source}: document {index + 1} has no 'kind'")
    return [expand_references(d, source=source) for d in documents]


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
