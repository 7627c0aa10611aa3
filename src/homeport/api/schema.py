"""Print the HTTP API's OpenAPI schema as JSON, without starting anything.

    python -m homeport.api.schema > web/src/api/openapi.json

The web UI's typed client is generated from this file (`make web-schema` does both steps).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from homeport.api.app import create_app
from homeport.settings import Settings


def openapi_schema() -> dict[str, Any]:
    """The schema FastAPI builds from the routes; no lifespan runs, nothing is opened."""
    return create_app(Settings(env="dev"), access_log=False).openapi()


def main() -> None:
    sys.stdout.write(json.dumps(openapi_schema(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
