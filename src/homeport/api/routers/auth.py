"""Browser sign-in (/api/v1/auth): registration, password sign-in and out, the session.

Registration, sign-in, sign-out and the sign-in options are public; the rest names its
permission like every route. `set_session_cookies` is also what SSO uses to sign a browser in.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response, status

from homeport.api.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    ProfileCaller,
    ServicesDep,
)
from homeport.api.schemas.rest import (
    AuthOptionsOut,
    LoginIn,
    PasswordChange,
    RegisterIn,
    SignedInOut,
    SsoOptionOut,
    UserOut,
)
from homeport.errors import AuthenticationFailed, PermissionDenied
from homeport.services.accounts import SESSION_LIFETIME, Client, SignIn
from homeport.settings import Settings

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def client_of(request: Request) -> Client:
    """The caller's address, browser, and the session cookie it sent (if any)."""
    return Client(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        cookie=request.cookies.get(SESSION_COOKIE) or None,
    )


def set_session_cookies(response: Response, signed_in: SignIn, settings: Settings) -> None:
    """The session cookie (HttpOnly) and the CSRF cookie the page's scripts read."""
    secure = settings.resolved_public_url.startswith("https://")
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        signed_in.csrf_token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    secure = settings.resolved_public_url.startswith("https://")
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="lax")


def refuse_cross_site(request: Request) -> None:
    """Sign-in forms are posted by this server's own pages: a browser that says another site
    sent the request (`Sec-Fetch-Site: cross-site`) is refused, so that no other site can
    sign a visitor in to an account of its choosing (login CSRF)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PermissionDenied(
            "Sign-in requests from other sites are refused.", code="cross_site_request"
        )


def signed_in_out(signed_in: SignIn) -> SignedInOut:
    return SignedInOut(
        user=UserOut.of(signed_in.user),
        csrf_token=signed_in.csrf_token,
        expires_at=signed_in.expires_at,
    )


@router.get("/options")
async def options(services: ServicesDep) -> AuthOptionsOut:
    """Public: how one may sign in here (registration open or closed, SSO providers)."""
    offered = await services.accounts.sign_in_options()
    return AuthOptionsOut(
        registration="open" if offered.registration == "open" else "closed",
        sso=[SsoOptionOut(name=o.name, label=o.label, login_url=o.login_url) for o in offered.sso],
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(
    body: RegisterIn, request: Request, response: Response, services: ServicesDep
) -> SignedInOut:
    """Public: create an account (when registration is open) and sign this browser in."""
    refuse_cross_site(request)
    signed_in = await services.accounts.register(
        name=body.name,
        password=body.password,
        email=body.email,
        display_name=body.display_name,
        client=client_of(request),
    )
    set_session_cookies(response, signed_in, services.settings)
    return signed_in_out(signed_in)


@router.post("/login")
async def login(
    body: LoginIn, request: Request, response: Response, services: ServicesDep
) -> SignedInOut:
    """Public: sign in with a name (or email) and password; sets the session cookies."""
    refuse_cross_site(request)
    signed_in = await services.accounts.sign_in(body.name, body.password, client=client_of(request))
    set_session_cookies(response, signed_in, services.settings)
    return signed_in_out(signed_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, services: ServicesDep) -> Response:
    """Public: end this browser's session (if it has one) and clear its cookies.

    A live session must send its CSRF token, as for any unsafe request made with the cookie.
    """
    client = client_of(request)
    if client.cookie:
        try:
            _, csrf = await services.accounts.authenticate_session(client.cookie)
        except AuthenticationFailed:
            csrf = None  # ended or expired already: only the cookies are left to clear
        if csrf is not None:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), csrf.encode()):
                raise PermissionDenied(
                    "Signing out needs the CSRF token of your session in the X-CSRF-Token header.",
                    code="csrf_failed",
                )
            await services.accounts.sign_out(client.cookie, client=client)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, services.settings)
    return response


@router.get("/session")
async def current_session(
    request: Request, services: ServicesDep, principal: ProfileCaller
) -> SignedInOut:
    """Who is signed in, and the CSRF token of this browser's session."""
    user = await services.users.get_user(principal.user_id)
    csrf: str | None = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and cookie:
        _, csrf = await services.accounts.authenticate_session(cookie)
    return SignedInOut(user=UserOut.of(user), csrf_token=csrf, via="session" if csrf else "key")


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, request: Request, services: ServicesDep, principal: ProfileCaller
) -> Response:
    """Change one's own password; every other browser session of the user ends."""
    await services.accounts.change_password(
        principal,
        current=body.current_password,
        new=body.new_password,
        client=client_of(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
