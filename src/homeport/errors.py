"""The one exception tree of Homeport.

    HomeportError
    ├── InvalidRequest                 the client asked for something malformed or unsupported
    │   ├── ValidationFailed           a field has the wrong type or value
    │   ├── PayloadTooLarge            the body is over the configured limit
    │   ├── ContextLengthExceeded      the newest message alone does not fit the model
    │   ├── UnsupportedFeature         the model or provider cannot do what was asked
    │   ├── DocumentUnreadable         a document is malformed, encrypted or of no known type
    │   └── OutboundBlocked            a URL points where Homeport may not fetch (SSRF guard)
    ├── AuthenticationFailed           no credential, or a wrong, expired or revoked one
    ├── PermissionDenied               authenticated, but not allowed
    ├── NotFound                       no such resource (or not visible to the caller)
    │   └── ModelNotFound
    ├── Conflict                       the resource exists already
    ├── RateLimited                    too many requests (upstream or ours)
    ├── UpstreamError                  a provider answered with an error or garbage
    │   ├── UpstreamUnavailable        a provider could not be reached
    │   │   └── RunnerLost             the runner serving a request went away
    │   └── UpstreamTimeout            a provider did not answer in time
    └── ServiceUnavailable             Homeport itself is not ready (model loading, shutting down)

Errors are raised, never returned. The HTTP mapping lives in `homeport.api.errors` and the
CLI mapping in `homeport.cli.output`; nothing else decides status codes or exit codes.
"""

from __future__ import annotations


class HomeportError(Exception):
    """Base of every error Homeport raises on purpose."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(HomeportError):
    pass


class ValidationFailed(InvalidRequest):
    pass


class PayloadTooLarge(InvalidRequest):
    pass


class ContextLengthExceeded(InvalidRequest):
    def __init__(self, message: str, *, param: str | None = "messages"):
        super().__init__(message, param=param, code="context_length_exceeded")


class UnsupportedFeature(InvalidRequest):
    pass


class DocumentUnreadable(InvalidRequest):
    pass


class OutboundBlocked(InvalidRequest):
    def __init__(self, message: str, *, param: str | None = "url"):
        super().__init__(message, param=param, code="url_not_allowed")


class AuthenticationFailed(HomeportError):
    pass


class PermissionDenied(HomeportError):
    pass


class NotFound(HomeportError):
    pass


class ModelNotFound(NotFound):
    def __init__(self, model: str, *, hint: str = ""):
        message = f"The model '{model}' does not exist or you do not have access to it."
        super().__init__(f"{message} {hint}".strip(), param="model", code="model_not_found")


class Conflict(HomeportError):
    pass


class RateLimited(HomeportError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, code: str = "rate_limit_exceeded"
    ):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class UpstreamError(HomeportError):
    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.status = status


class UpstreamUnavailable(UpstreamError):
    pass


class RunnerLost(UpstreamUnavailable):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class ServiceUnavailable(HomeportError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
