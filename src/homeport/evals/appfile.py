"""Editing an app file in place (evals add test cases and fixed responses to it), keeping
its comments and layout: ruamel.yaml's round trip, where PyYAML would drop the comments."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from homeport.errors import ValidationFailed


@dataclass
class AppDocument:
    """The app file's document (wrapped or flat form), to change in place."""

    data: Any

    def assistants(self) -> list[Any]:
        spec = self.data.get("spec", self.data) if isinstance(self.data, dict) else None
        found = spec.get("assistants") if isinstance(spec, dict) else None
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []


@contextmanager
def app_file(path: Path) -> Iterator[AppDocument]:
    """The app file's document; written back when the block ends without an error."""
    yaml = _yaml()
    try:
        document = AppDocument(yaml.load(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"{path}: {exc}") from exc
    yield document
    out = io.StringIO()
    yaml.dump(document.data, out)
    path.write_text(out.getvalue(), encoding="utf-8")


def dump_yaml(data: Any) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # long prompts stay on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml
