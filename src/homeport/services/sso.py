"""Single sign-on with OpenID Connect: sign a browser in with the company's identity provider.

    start   a state, a nonce and a PKCE verifier, kept in `oidc_logins` for ten minutes; the
            browser goes to the provider (and keeps the state in a cookie, so that a sign-in
            started in one browser cannot be finished in another)
    finish  the state is taken (once), the code traded for tokens, the ID token validated
            (signature, issuer, audience, expiry, nonce), the email domain checked, the user
            found by issuer + subject (never by email) or created, their groups applied, and
            a browser session opened

Groups (the `HOMEPORT_OIDC_GROUPS_CLAIM` claim) are applied at every sign-in: membership of
an admin group makes a platform admin (and its loss takes the role away), and the group map
decides the user's role in each organization it names, and their teams there. Organizations
the map does not name are left as admins set them. Every sign-in, failed ones included, is
in the audit log as `auth.login` with `method: sso`.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.oidc import InvalidIdToken, OidcClient
from homeport.db.engine import Database
from homeport.db.repositories import OrgRepository, TeamRepository, UserRepository
from homeport.db.repositories.sso import OidcLoginRepository, OidcUserRepository, PendingLogin
from homeport.domain.access import Organization, OrgRole
from homeport.domain.sso import SsoIdentity, place
from homeport.domain.users import ADMIN, User
from homeport.errors import AuthenticationFailed, HomeportError, NotFound, ValidationFailed
from homeport.services.accounts import AccountService, Client, SignIn, SsoOption
from homeport.services.audit import AuditService
from homeport.services.users import DEFAULT_ORG, UserService, join_default_org
from homeport.settings import Settings

log = logging.getLogger(__name__)

LOGIN_PATH = "/api/v1/auth/sso/login"
CALLBACK_PATH = "/api/v1/auth/sso/callback"
LOGIN_LIFETIME = timedelta(minutes=10)
NAME_CHARS = re.compile(r"[^A-Za-z0-9_.@-]+")
MAX_NAME = 90


@dataclass(frozen=True, slots=True)
class SsoStart:
    """Where to send the browser, and the state it must bring back."""

    url: str
    state: str


@dataclass(frozen=True, slots=True)
class SsoSignedIn:
    sign_in: SignIn
    redirect_to: str
    created: bool


@dataclass(frozen=True, slots=True)
class Callback:
    """What the provider sent back through the browser."""

    state: str | None
    browser_state: str | None
    code: str | None
    error: str | None


def local_path(redirect: str | None) -> str:
    """`redirect` if it is a path on this server; refuses anything that leaves it."""
    if not redirect:
        return "/"
    parts = urlsplit(redirect)
    if (
        not redirect.startswith("/")
        or redirect.startswith("//")
        or "\\" in redirect
        or parts.scheme
        or parts.netloc
        or any(ord(c) < 32 or ord(c) == 127 for c in redirect)
    ):
        raise ValidationFailed(
            "redirect must be a path on this server, such as /chat", param="redirect"
        )
    return redirect


class SsoService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        http: aiohttp.ClientSession,
        *,
        audit: AuditService,
        users: UserService,
        accounts: AccountService,
    ):
        self.db = db
        self.audit = audit
        self.users = users
        self.accounts = accounts
        self.client: OidcClient | None = None
        if settings.oidc_issuer and settings.oidc_client_id:
            secret = settings.oidc_client_secret
            self.client = OidcClient(
                http,
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=secret.get_secret_value() if secret else None,
                scopes=settings.oidc_scopes,
            )
        self.label = settings.oidc_label
        self.redirect_uri = settings.resolved_public_url + CALLBACK_PATH
        self.groups_claim = settings.oidc_groups_claim
        self.allowed_domains = frozenset(
            d.lower().lstrip("@") for d in settings.oidc_allowed_domains
        )
        self.admin_groups = frozenset(settings.oidc_admin_groups)
        self.rules = settings.oidc_group_rules

    @property
    def enabled(self) -> bool:
        return self.client is not None

    @property
    def option(self) -> SsoOption:
        """How the sign-in page offers it."""
        return SsoOption(name="oidc", label=self.label, login_url=LOGIN_PATH)

    def _client(self) -> OidcClient:
        if self.client is None:
            raise NotFound("Single sign-on is not configured on this server.", code="sso_disabled")
        return self.client

    # -- start ----------------------------------------------------------------------------

    async def start(self, redirect: str | None) -> SsoStart:
        """A new sign-in: the provider's authorization URL, and the state to remember."""
        client = self._client()
        target = local_path(redirect)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        url = await client.authorization_url(
            redirect_uri=self.redirect_uri, state=state, nonce=nonce, code_verifier=verifier
        )
        async with self.db.transaction() as session:
            logins = OidcLoginRepository(session)
            await logins.purge(older_than=datetime.now(UTC) - LOGIN_LIFETIME)
            await logins.add(state=state, nonce=nonce, code_verifier=verifier, redirect_to=target)
        return SsoStart(url=url, state=state)

    # -- finish ---------------------------------------------------------------------------

    async def finish(self, callback: Callback, *, client: Client) -> SsoSignedIn:
        """Complete a sign-in the provider sent back; every refusal is audited."""
        try:
            return await self._finish(callback, client)
        except AuthenticationFailed as exc:
            details: dict[str, Any] = {"method": "sso", "reason": exc.code or "refused"}
            if isinstance(exc, InvalidIdToken):
                details["detail"] = exc.reason[:300]
            await self.audit.record("auth.login", outcome="failure", ip=client.ip, details=details)
            raise

    async def _finish(self, callback: Callback, client: Client) -> SsoSignedIn:
        oidc = self._client()
        login = await self._take(callback)
        if callback.error:
            raise AuthenticationFailed(
                f"The identity provider did not sign you in: {callback.error[:100]}",
                code="sso_denied",
            )
        if not callback.code:
            raise AuthenticationFailed("The identity provider sent no code.", code="sso_failed")
        tokens = await oidc.exchange(
            callback.code, redirect_uri=self.redirect_uri, code_verifier=login.code_verifier
        )
        access_token = tokens.get("access_token")
        access_token = access_token if isinstance(access_token, str) else None
        claims = await oidc.validate_id_token(
            tokens["id_token"], nonce=login.nonce, access_token=access_token
        )
        claims = await self._with_userinfo(oidc, claims, access_token)
        identity = SsoIdentity.from_claims(claims, groups_claim=self.groups_claim)
        self._check_allowed(identity)
        user, created = await self._provision(identity, client)
        signed_in = await self.accounts.start_session(
            user, user_agent=client.user_agent, ip=client.ip, replaces=client.cookie
        )
        await self.audit.record(
            "auth.login",
            actor_user_id=user.id,
            target_type="user",
            target_id=user.id,
            ip=client.ip,
            details={"method": "sso", "session_id": signed_in.session_id, "created": created},
        )
        return SsoSignedIn(signed_in, login.redirect_to or "/", created)

    async def _take(self, callback: Callback) -> PendingLogin:
        """The sign-in this browser started, used up; refused if it is not theirs or old."""
        state, ours = callback.state or "", callback.browser_state or ""
        if not state or not hmac.compare_digest(state.encode(), ours.encode()):
            raise AuthenticationFailed(
                "This sign-in was not started in this browser; start it again.",
                code="sso_invalid_state",
            )
        async with self.db.transaction() as session:
            login = await OidcLoginRepository(session).take(state)
        if login is None or login.created_at < datetime.now(UTC) - LOGIN_LIFETIME:
            raise AuthenticationFailed(
                "This sign-in has expired or was used already; start it again.",
                code="sso_invalid_state",
            )
        return login

    async def _with_userinfo(
        self, oidc: OidcClient, claims: dict[str, Any], access_token: str | None
    ) -> dict[str, Any]:
        """Fill claims the ID token lacks (email, groups) from the userinfo endpoint."""
        group_root = self.groups_claim.split(".", 1)[0]
        if access_token is None or ("email" in claims and group_root in claims):
            return claims
        try:
            info = await oidc.userinfo(access_token)
        except HomeportError as exc:
            log.warning("SSO: userinfo failed, using the ID token alone: %s", exc.message)
            return claims
        if info.get("sub") != claims.get("sub"):
            log.warning("SSO: userinfo is about another subject; ignored")
            return claims
        return {**info, **claims}

    def _check_allowed(self, identity: SsoIdentity) -> None:
        if not self.allowed_domains:
            return
        if identity.email_verified is False:
            raise AuthenticationFailed(
                "Your identity provider has not verified your email address.",
                code="sso_email_unverified",
            )
        if identity.email_domain not in self.allowed_domains:
            raise AuthenticationFailed(
                f"Accounts of {identity.email_domain or 'no email domain'} may not sign in here.",
                code="sso_domain_not_allowed",
            )

    # -- the user -------------------------------------------------------------------------

    async def _provision(self, identity: SsoIdentity, client: Client) -> tuple[User, bool]:
        """The user of this identity, created on first sign-in, with groups re-applied."""
        async with self.db.transaction() as session:
            user_id = await OidcUserRepository(session).find(identity.issuer, identity.subject)
            if user_id is None:
                user = await self._create(session, identity, client)
            else:
                user = await self._refresh(session, user_id, identity)
            changes = await self._apply_groups(session, user, identity)
            user = await UserRepository(session).get(user.id) or user
            if changes:
                await self.audit.record(
                    "auth.sso_access_changed",
                    actor_user_id=user.id,
                    target_type="user",
                    target_id=user.id,
                    ip=client.ip,
                    details={"changes": changes},
                    session=session,
                )
        self.users.forget(user.id)
        return user, user_id is None

    async def _create(self, session: AsyncSession, identity: SsoIdentity, client: Client) -> User:
        users = UserRepository(session)
        user = await users.add(
            name=await self._free_name(session, identity),
            email=_trusted_email(identity),
            roles=["user"],
            source="oidc",
            display_name=identity.name,
        )
        await OidcUserRepository(session).link(
            user.id, issuer=identity.issuer, subject=identity.subject
        )
        if DEFAULT_ORG not in {rule.org for rule in self.rules}:
            await join_default_org(session, user.id)
        await self.audit.record(
            "user.created",
            actor_user_id=user.id,
            target_type="user",
            target_id=user.id,
            ip=client.ip,
            details={"name": user.name, "source": "oidc", "issuer": identity.issuer},
            session=session,
        )
        return user

    async def _refresh(self, session: AsyncSession, user_id: str, identity: SsoIdentity) -> User:
        users = UserRepository(session)
        user = await users.get(user_id)
        if user is None:  # deleted between the two reads
            raise AuthenticationFailed("This user no longer exists.", code="invalid_user")
        if user.disabled:
            raise AuthenticationFailed("This user is disabled.", code="user_disabled")
        changes: dict[str, Any] = {}
        email = _trusted_email(identity)
        if email and email != user.email:
            changes["email"] = email
        if identity.name and identity.name != user.display_name:
            changes["display_name"] = identity.name
        if changes:
            user = await users.update(user.id, **changes) or user
        return user

    async def _free_name(self, session: AsyncSession, identity: SsoIdentity) -> str:
        """A unique user name from the preferred username or the email (never a match)."""
        bases = [_clean(v) for v in (identity.username, identity.email) if v]
        bases = [b for b in bases if b] or [
            "sso-" + sha256(identity.subject.encode()).hexdigest()[:10]
        ]
        candidates = bases + [f"{bases[0][:MAX_NAME]}-{n}" for n in range(2, 30)]
        taken = await OidcUserRepository(session).names_taken(candidates)
        free = [c for c in candidates if c not in taken]
        return free[0] if free else f"{bases[0][:MAX_NAME]}-{secrets.token_hex(4)}"

    async def _apply_groups(
        self, session: AsyncSession, user: User, identity: SsoIdentity
    ) -> list[str]:
        """Re-apply the admin groups and the group map; what changed, for the audit log."""
        changes = []
        if self.admin_groups:
            admin = bool(self.admin_groups.intersection(identity.groups))
            roles = [r for r in user.roles if r != ADMIN] or ["user"]
            roles = [ADMIN, *roles] if admin else roles
            if set(roles) != set(user.roles):
                await UserRepository(session).update(user.id, roles=roles)
                changes.append(f"platform role: {'admin' if admin else 'not admin'}")
        if self.rules:
            changes += await self._place(session, user.id, identity.groups)
        return changes

    async def _place(
        self, session: AsyncSession, user_id: str, groups: tuple[str, ...]
    ) -> list[str]:
        placement = place(self.rules, groups)
        orgs, changes = OrgRepository(session), []
        current = {m.org_id: m.role for m in await orgs.memberships_of(user_id)}
        org_ids: dict[str, str] = {}
        for name in sorted(placement.managed_orgs):
            role = placement.roles.get(name)
            org = await orgs.get(name)
            if org is None and role is not None:
                org = await orgs.add(name=name, display_name=name)
            if org is None:
                continue
            org_ids[name] = org.id
            if current.get(org.id) != role:
                change = await self._set_role(session, org, user_id, current, role)
                changes += [change] if change else []
        return changes + await self._place_teams(session, user_id, placement.teams, org_ids)

    async def _set_role(
        self,
        session: AsyncSession,
        org: Organization,
        user_id: str,
        current: Mapping[str, OrgRole],
        role: OrgRole | None,
    ) -> str | None:
        """Give the role (None: take the user out, teams included); an organization keeps
        its last owner, as it does through the API."""
        orgs = OrgRepository(session)
        if current.get(org.id) is OrgRole.OWNER:
            owners = [m for m in await orgs.members(org.id) if m.role is OrgRole.OWNER]
            if len(owners) == 1:
                log.warning("SSO: %s stays owner of %s, its last owner", user_id, org.name)
                return None
        if role is not None:
            await orgs.set_member(org.id, user_id, role)
            return f"organization {org.name}: {role.value}"
        teams = TeamRepository(session)
        for team in await teams.in_org(org.id):
            await teams.remove_member(team.id, user_id)
        await orgs.remove_member(org.id, user_id)
        return f"left organization {org.name}"

    async def _place_teams(
        self,
        session: AsyncSession,
        user_id: str,
        wanted: Mapping[tuple[str, str], bool],
        org_ids: dict[str, str],
    ) -> list[str]:
        teams, changes = TeamRepository(session), []
        mine = set(await teams.team_ids_of(user_id))
        for (org_name, team_name), member in sorted(wanted.items()):
            org_id = org_ids.get(org_name)
            if org_id is None:
                continue
            team = next((t for t in await teams.in_org(org_id) if t.name == team_name), None)
            if team is None and member:
                team = await teams.add(org_id=org_id, name=team_name)
            if team is None:
                continue
            if member and team.id not in mine:
                await teams.add_member(team.id, user_id)
                changes.append(f"joined team {org_name}/{team_name}")
            elif not member and team.id in mine:
                await teams.remove_member(team.id, user_id)
                changes.append(f"left team {org_name}/{team_name}")
        return changes


def _trusted_email(identity: SsoIdentity) -> str | None:
    """The email to store: none when the provider says it is unverified."""
    return identity.email if identity.email_verified is not False else None


def _clean(value: str) -> str:
    name = NAME_CHARS.sub("-", value.strip())
    return name.lstrip("-_.@")[:MAX_NAME]
