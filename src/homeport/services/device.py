"""Signing a command-line client in by device flow (after RFC 8628).

    CLI       POST /api/v1/auth/device            -> device_code, user_code, verification_uri
    person    opens verification_uri, signed in, and approves the user code
    CLI       POST /api/v1/auth/device/token       -> authorization_pending ... then an API key

Both codes are stored hashed (SHA-256) and live ten minutes; a code gives out one key, once.
The key belongs to the person who approved, is named "cli (<host>)", and is made when the CLI
collects it, so its secret is never stored. The answers while waiting are errors with the
RFC's codes: `authorization_pending`, `slow_down` (polled sooner than `interval`),
`expired_token`, `access_denied`, and `invalid_grant` for a code that is unknown or used.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from homeport.auth.keys import hash_key
from homeport.auth.policy import Permission, require
from homeport.db.engine import Database
from homeport.db.repositories.devices import (
    APPROVED,
    DENIED,
    DONE,
    PENDING,
    DeviceCode,
    DeviceCodeRepository,
)
from homeport.db.repositories.users import UserRepository
from homeport.domain.users import Principal
from homeport.errors import AuthenticationFailed, InvalidRequest, NotFound, RateLimited
from homeport.services.audit import AuditService
from homeport.services.users import CreatedKey, UserService, load_principal
from homeport.settings import Settings

CODE_LIFETIME = timedelta(minutes=10)
POLL_INTERVAL_SECONDS = 5
MAX_PENDING = 1000
# No vowels (no words), no look-alikes; 20**8 codes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
VERIFICATION_PATH = "/device"
CLIENT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """What the CLI shows and polls with; the device code is known only now."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    interval: int
    expires_in: int


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A sign-in waiting for approval, as the person approving it sees it."""

    user_code: str
    client_name: str
    status: str
    created_at: datetime
    expires_at: datetime


def normalize_user_code(text: str) -> str:
    """'wdjb-mjht ' -> 'WDJBMJHT': people type codes in any case, with or without the dash."""
    return "".join(c for c in text.upper() if c.isalnum())


def format_user_code(code: str) -> str:
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def _user_code_hash(code: str) -> str:
    return hashlib.sha256(normalize_user_code(code).encode()).hexdigest()


class DeviceService:
    def __init__(
        self, settings: Settings, db: Database, *, audit: AuditService, users: UserService
    ):
        self.db = db
        self.audit = audit
        self.users = users
        self.verification_uri = settings.resolved_public_url + VERIFICATION_PATH

    async def start(self, client_name: str | None, *, ip: str | None = None) -> DeviceAuthorization:
        """A new pair of codes for a device that wants to sign in."""
        now = datetime.now(UTC)
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        name = CLIENT_NAME.sub("-", client_name or "").strip("-")[:60] or "unknown host"
        async with self.db.transaction() as session:
            codes = DeviceCodeRepository(session)
            await codes.purge(expired_before=now - CODE_LIFETIME)
            if await codes.count_pending(now) >= MAX_PENDING:
                raise RateLimited(
                    "Too many device sign-ins are waiting; try again in a minute.", retry_after=60
                )
            await codes.add(
                device_code_hash=hash_key(device_code),
                user_code_hash=_user_code_hash(user_code),
                client_name=name,
                expires_at=now + CODE_LIFETIME,
            )
        shown = format_user_code(user_code)
        return DeviceAuthorization(
            device_code=device_code,
            user_code=shown,
            verification_uri=self.verification_uri,
            verification_uri_complete=f"{self.verification_uri}?code={shown}",
            interval=POLL_INTERVAL_SECONDS,
            expires_in=int(CODE_LIFETIME.total_seconds()),
        )

    # -- the person approving -------------------------------------------------------------

    async def pending(self, principal: Principal, user_code: str) -> DeviceRequest:
        """The waiting sign-in with this code, to show before it is approved."""
        require(principal, Permission.PROFILE)
        async with self.db.transaction() as session:
            code = await DeviceCodeRepository(session).by_user_code(_user_code_hash(user_code))
        return _request(user_code, _waiting(code))

    async def decide(
        self, principal: Principal, user_code: str, *, approve: bool, ip: str | None = None
    ) -> DeviceRequest:
        """Approve (or deny) a waiting sign-in: the device gets a key of the approver's."""
        require(principal, Permission.PROFILE)
        require(principal, Permission.KEYS)
        status = APPROVED if approve else DENIED
        async with self.db.transaction() as session:
            codes = DeviceCodeRepository(session)
            code = _waiting(await codes.by_user_code(_user_code_hash(user_code)))
            if not await codes.decide(code.id, status=status, user_id=principal.user_id):
                raise _no_such_code()
            await self.audit.record(
                "auth.device_approved" if approve else "auth.device_denied",
                actor=principal,
                target_type="device_code",
                target_id=code.id,
                ip=ip,
                details={"client": code.client_name},
                session=session,
            )
        return _request(user_code, code, status=status)

    # -- the device polling ---------------------------------------------------------------

    async def poll(self, device_code: str) -> CreatedKey:
        """The key, once approved; until then an error that says how things stand."""
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            codes = DeviceCodeRepository(session)
            code = await codes.by_device_code(hash_key(device_code))
            problem = _poll_problem(code, now)
            if code is not None and code.status == PENDING:
                await codes.polled(code.id, now)
            claimed = code is not None and problem is None and await codes.finish(code.id)
        if problem is not None:
            raise problem
        if not claimed or code is None or code.user_id is None:
            raise InvalidRequest("This device code was used already.", code="invalid_grant")
        principal = await self._principal(code.user_id)
        return await self.users.create_key(principal, name=f"cli ({code.client_name})")

    async def _principal(self, user_id: str) -> Principal:
        async with self.db.transaction() as session:
            user = await UserRepository(session).get(user_id)
            if user is None or user.disabled:
                raise AuthenticationFailed(
                    "The user who approved this sign-in can no longer sign in.",
                    code="access_denied",
                )
            return await load_principal(session, user)


def _poll_problem(code: DeviceCode | None, now: datetime) -> InvalidRequest | None:
    if code is None or code.status == DONE:
        return InvalidRequest(
            "This device code is unknown or was used already.", code="invalid_grant"
        )
    if code.expires_at <= now:
        return InvalidRequest(
            "This sign-in expired before it was approved; start again.", code="expired_token"
        )
    if code.status == DENIED:
        return InvalidRequest("The sign-in was denied.", code="access_denied")
    if code.status != PENDING:
        return None
    interval = timedelta(seconds=POLL_INTERVAL_SECONDS)
    if code.last_polled_at is not None and now - code.last_polled_at < interval:
        return InvalidRequest(
            f"Polling too fast: wait {POLL_INTERVAL_SECONDS} seconds between requests.",
            code="slow_down",
        )
    return InvalidRequest("Waiting for the sign-in to be approved.", code="authorization_pending")


def _waiting(code: DeviceCode | None) -> DeviceCode:
    if code is None or code.status != PENDING or code.expires_at <= datetime.now(UTC):
        raise _no_such_code()
    return code


def _no_such_code() -> NotFound:
    return NotFound(
        "No sign-in is waiting for this code: check it, or start again on your device.",
        param="user_code",
        code="invalid_user_code",
    )


def _request(user_code: str, code: DeviceCode, *, status: str | None = None) -> DeviceRequest:
    return DeviceRequest(
        user_code=format_user_code(normalize_user_code(user_code)),
        client_name=code.client_name,
        status=status or code.status,
        created_at=code.created_at,
        expires_at=code.expires_at,
    )
