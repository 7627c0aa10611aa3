"""An app's canonical forms: the YAML `homeport` writes back, and the JSON Schema for editors."""

from __future__ import annotations

from typing import Any

import yaml

from homeport.apps.base import show
from homeport.apps.spec import API_VERSION, API_VERSIONS, KIND, AppSpec, is_app_name
from homeport.errors import ValidationFailed


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (`|`), as people write prompts."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_app(spec: AppSpec, name: str) -> str:
    """The canonical YAML (wrapped form) of an app; loading it gives an equal spec."""
    if not is_app_name(name):
        raise ValidationFailed(f"{show(name)} is not an app name", param="name")
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": spec.model_dump(by_alias=True, exclude_defaults=True),
    }
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def app_json_schema() -> dict[str, Any]:
    """JSON Schema of an app file in the wrapped form, for editors."""
    spec = AppSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**spec.pop("$defs", {}), "AppSpec": spec}
    metadata = {
        "type": "object",
        "properties": {"name": {"type": "string", "description": "The app's name, e.g. marvin."}},
        "required": ["name"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Homeport app",
        "type": "object",
        "properties": {
            "apiVersion": {"enum": list(API_VERSIONS)},
            "kind": {"const": KIND},
            "metadata": metadata,
            "spec": {"$ref": "#/$defs/AppSpec"},
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }
