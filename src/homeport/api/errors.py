"""The one place errors become HTTP responses, in OpenAI's error shape.

{"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": null}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from homeport import errors
from homeport.api.responses import JSONResponse

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
STATUS: list[tuple[type[errors.HomeportError], int, str]] = [
    (errors.ValidationFailed, 422, "invalid_request_error"),
    (errors.PayloadTooLarge, 413, "invalid_request_error"),
    (errors.InvalidRequest, 400, "invalid_request_error"),
    (errors.AuthenticationFailed, 401, "authentication_error"),
    (errors.PermissionDenied, 403, "permission_error"),
    (errors.NotFound, 404, "not_found_error"),
    (errors.Conflict, 409, "conflict_error"),
    (errors.RateLimited, 429, "rate_limit_error"),
    (errors.UpstreamTimeout, 504, "timeout_error"),
    (errors.UpstreamError, 502, "upstream_error"),
    (errors.ServiceUnavailable, 503, "service_unavailable"),
]


def error_body(
    message: str, *, kind: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def status_of(exc: errors.HomeportError) -> tuple[int, str]:
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "server_error"


def error_payload(exc: errors.HomeportError) -> tuple[int, dict[str, Any]]:
    status, kind = status_of(exc)
    return status, error_body(exc.message, kind=kind, param=exc.param, code=exc.code)


def homeport_error_response(exc: errors.HomeportError) -> JSONResponse:
    status, body = error_payload(exc)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500:
        log.warning("%s: %s", type(exc).__name__, exc.message)
    return JSONResponse(body, status_code=status, headers=headers)


async def _homeport_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.HomeportError)
    return homeport_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        return JSONResponse(
            error_body(
                "The request body is not valid JSON.",
                kind="invalid_request_error",
                code="invalid_json",
            ),
            status_code=400,
        )
    first = problems[0] if problems else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    message = "; ".join(_describe(p) for p in problems[:5]) or "invalid request"
    return JSONResponse(
        error_body(message, kind="invalid_request_error", param=param), status_code=422
    )


def _describe(problem: Any) -> str:
    location = ".".join(
        str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path")
    )
    return f"{location or 'body'}: {problem.get('msg', 'invalid')}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route {request.method} {request.url.path}."
    return JSONResponse(
        error_body(message, kind=kinds.get(exc.status_code, "invalid_request_error")),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        error_body("The server had an error while processing your request.", kind="server_error"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.HomeportError, _homeport_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
