"""Users and API keys (/api/v1/users, /api/v1/keys, /api/v1/me)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, status

from homeport.api.deps import KeysCaller, ProfileCaller, ServicesDep, UsersAdmin
from homeport.api.schemas.rest import KeyCreate, KeyCreated, KeyOut, UserCreate, UserOut
from homeport.errors import ValidationFailed

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me")
async def me(services: ServicesDep, principal: ProfileCaller) -> UserOut:
    return UserOut.of(await services.users.get_user(principal.user_id))


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, services: ServicesDep, admin: UsersAdmin) -> UserOut:
    user = await services.users.create_user(body.name, email=body.email, roles=list(body.roles))
    return UserOut.of(user)


@router.get("/users")
async def list_users(services: ServicesDep, admin: UsersAdmin) -> list[UserOut]:
    return [UserOut.of(u) for u in await services.users.list_users()]


@router.get("/users/{user}")
async def get_user(user: str, services: ServicesDep, admin: UsersAdmin) -> UserOut:
    return UserOut.of(await services.users.get_user(user))


@router.post("/keys", status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyCreate, services: ServicesDep, principal: KeysCaller) -> KeyCreated:
    if body.expires_at is not None and body.expires_in_days is not None:
        raise ValidationFailed("give expires_at or expires_in_days, not both", param="expires_at")
    expires_at = body.expires_at
    if body.expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    created = await services.users.create_key(
        principal, name=body.name, user=body.user, expires_at=expires_at, scopes=body.scopes
    )
    return KeyCreated(**KeyOut.of(created.key).model_dump(), key=created.secret)


@router.get("/keys")
async def list_keys(
    services: ServicesDep,
    principal: KeysCaller,
    user: str | None = Query(default=None, description="User id or name (admins only)"),
) -> list[KeyOut]:
    return [KeyOut.of(k) for k in await services.users.list_keys(principal, user=user)]


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, services: ServicesDep, principal: KeysCaller) -> KeyOut:
    return KeyOut.of(await services.users.revoke_key(principal, key_id))
