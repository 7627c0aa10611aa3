"""Single sign-on with OpenID Connect (/api/v1/auth/sso): see `homeport.services.sso`.

Both routes are public: they are how a browser without a session gets one. The state of a
sign-in also rides in a short-lived HttpOnly cookie, so that only the browser that started it
can finish it.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import RedirectResponse

from homeport.api.deps import ServicesDep
from homeport.api.routers.auth import client_of, set_session_cookies
from homeport.services.sso import CALLBACK_PATH, LOGIN_LIFETIME, Callback

router = APIRouter(prefix="/api/v1/auth/sso", tags=["auth"])

STATE_COOKIE = "homeport_sso_state"
STATE_COOKIE_PATH = CALLBACK_PATH.rsplit("/", 1)[0]


@router.get("/login", response_class=RedirectResponse, status_code=status.HTTP_303_SEE_OTHER)
async def login(
    request: Request,
    services: ServicesDep,
    redirect: str | None = Query(
        default=None, max_length=2048, description="A path on this server to return to"
    ),
) -> RedirectResponse:
    """Public: send the browser to the identity provider."""
    started = await services.sso.start(redirect)
    response = RedirectResponse(started.url, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        STATE_COOKIE,
        started.state,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        path=STATE_COOKIE_PATH,
        secure=services.settings.resolved_public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/callback", response_class=RedirectResponse, status_code=status.HTTP_303_SEE_OTHER)
async def callback(
    request: Request,
    services: ServicesDep,
    state: str | None = Query(default=None, max_length=200),
    code: str | None = Query(default=None, max_length=4096),
    error: str | None = Query(default=None, max_length=200),
) -> RedirectResponse:
    """Public: where the provider sends the browser back; signs it in and returns it to
    the page it came from."""
    done = await services.sso.finish(
        Callback(state, request.cookies.get(STATE_COOKIE), code, error), client=client_of(request)
    )
    response = RedirectResponse(done.redirect_to, status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookies(response, done.sign_in, services.settings)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH, httponly=True, samesite="lax")
    return response
