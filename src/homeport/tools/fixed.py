"""Fixed API responses: what an app's operations answer while its tests run, so an eval
depends on the app and its model, not on live data; and recording the live responses, to
declare them.

A test declares them (`tests[].api_responses`); the executor answers a call from the first
declared response for its operation whose `when` arguments the call has, as if the API had
sent it. A call with no declared response fails, and is never sent to the live API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from homeport.outbound import Fetched


@dataclass(frozen=True, slots=True)
class FixedResponse:
    operation: str
    api: str | None = None
    when: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def matches(self, api: str, operation: str, arguments: Mapping[str, Any]) -> bool:
        if self.operation != operation or self.api not in (None, api):
            return False
        return all(
            key in arguments and _same(arguments[key], value) for key, value in self.when.items()
        )

    def fetched(self, url: str) -> Fetched:
        """The response as the API would have sent it to `url`."""
        if isinstance(self.body, str):
            data, content_type = self.body.encode(), "text/plain"
        else:
            data, content_type = orjson.dumps(self.body), "application/json"
        headers = {"Content-Type": content_type, **self.headers}
        declared = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        return Fetched(
            url=url,
            final_url=url,
            status=self.status,
            content_type=(declared or content_type).split(";")[0].strip(),
            charset="utf-8",
            data=data,
            headers=headers,
        )


@dataclass(frozen=True, slots=True)
class FixedResponses:
    responses: Sequence[FixedResponse]

    def find(self, api: str, operation: str, arguments: Mapping[str, Any]) -> FixedResponse | None:
        return next((r for r in self.responses if r.matches(api, operation, arguments)), None)

    def declared(self, api: str, operation: str) -> bool:
        return any(r.operation == operation and r.api in (None, api) for r in self.responses)


def _same(given: Any, wanted: Any) -> bool:
    """Arguments compare as JSON values, except that text compares without case ('Bristol'
    and 'bristol' name the same place to most APIs)."""
    if isinstance(given, str) and isinstance(wanted, str):
        return given.casefold() == wanted.casefold()
    if isinstance(given, Mapping) and isinstance(wanted, Mapping):
        return all(k in given and _same(given[k], v) for k, v in wanted.items())
    return bool(given == wanted)


@dataclass(frozen=True, slots=True)
class ApiEnvironment:
    """How an app's API calls behave while its tests run: answered by `fixed` when given
    (never by the live API, and not logged), and each response kept with its call when
    `record` (to declare them as the test's fixed responses)."""

    fixed: FixedResponses | None = None
    record: bool = False
