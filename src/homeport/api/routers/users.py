"""Users and API keys (/api/v1/users, /api/v1/keys, /api/v1/me)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Query, Request, Response, status

from homeport.api.deps import KeysCaller, ProfileCaller, ServicesDep, UsersAdmin
from homeport.api.routers.auth import client_of
from homeport.api.schemas.rest import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    PasswordReset,
    UserCreate,
    UserDeletedOut,
    UserOut,
    UserUpdate,
)
from homeport.errors import ValidationFailed

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me")
async def me(services: ServicesDep, principal: ProfileCaller) -> UserOut:
    return UserOut.of(await services.users.get_user(principal.user_id))


@router.post("/users", status_code=status.HTTP_201_CREATED)
async def create_user(
    body: UserCreate, request: Request, services: ServicesDep, admin: UsersAdmin
) -> UserOut:
    user = await services.users.create_user(
        body.name,
        email=body.email,
        roles=list(body.roles),
        password=body.password,
        display_name=body.display_name,
        actor=admin,
        ip=client_of(request).ip,
    )
    return UserOut.of(user)


@router.get("/users")
async def list_users(services: ServicesDep, admin: UsersAdmin) -> list[UserOut]:
    return [UserOut.of(u) for u in await services.users.list_users()]


@router.get("/users/{user}")
async def get_user(user: str, services: ServicesDep, admin: UsersAdmin) -> UserOut:
    return UserOut.of(await services.users.get_user(user))


@router.patch("/users/{user}")
async def update_user(
    user: str, body: UserUpdate, request: Request, services: ServicesDep, admin: UsersAdmin
) -> UserOut:
    """Change the fields given. Disabling signs the user out and stops their keys at once."""
    changes = body.model_dump(exclude_unset=True)
    for field in ("disabled", "roles"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be null", param=field)
    updated = await services.users.update_user(admin, user, changes, ip=client_of(request).ip)
    return UserOut.of(updated)


@router.delete("/users/{user}")
async def delete_user(
    user: str,
    request: Request,
    services: ServicesDep,
    admin: UsersAdmin,
    transfer_to: str | None = Query(
        default=None,
        description="User id or name who gets what the deleted user owns; without it, "
        "their data is deleted with them",
    ),
) -> UserDeletedOut:
    deleted = await services.users.delete_user(
        admin, user, transfer_to=transfer_to, ip=client_of(request).ip
    )
    return UserDeletedOut(
        id=deleted.user.id,
        name=deleted.user.name,
        transferred_to=deleted.transferred_to.id if deleted.transferred_to else None,
        chat_sessions=deleted.chat_sessions,
    )


@router.post("/users/{user}/password", status_code=status.HTTP_204_NO_CONTENT)
async def reset_password(
    user: str, body: PasswordReset, request: Request, services: ServicesDep, admin: UsersAdmin
) -> Response:
    """Set a user's password; they are signed out of every browser."""
    await services.users.reset_password(admin, user, body.new_password, ip=client_of(request).ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
