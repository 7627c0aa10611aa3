"""SSO sign-ins in progress, and users by their identity at a provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import OidcLoginRow, UserRow
from homeport.errors import Conflict


@dataclass(frozen=True, slots=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    redirect_to: str | None
    created_at: datetime


class OidcLoginRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, *, state: str, nonce: str, code_verifier: str, redirect_to: str) -> None:
        self.session.add(
            OidcLoginRow(
                state=state, nonce=nonce, code_verifier=code_verifier, redirect_to=redirect_to
            )
        )
        await self.session.flush()

    async def take(self, state: str) -> PendingLogin | None:
        """The sign-in with this state, removed so that it cannot be used twice."""
        row = await self.session.get(OidcLoginRow, state)
        if row is None:
            return None
        login = PendingLogin(
            row.state, row.nonce, row.code_verifier, row.redirect_to, row.created_at
        )
        result = await self.session.execute(delete(OidcLoginRow).where(OidcLoginRow.state == state))
        # Another request took it between the read and the delete: it is theirs.
        return login if getattr(result, "rowcount", 0) == 1 else None

    async def purge(self, *, older_than: datetime) -> None:
        await self.session.execute(delete(OidcLoginRow).where(OidcLoginRow.created_at < older_than))


class OidcUserRepository:
    """Users created by single sign-on, found by issuer and subject (never by email)."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def find(self, issuer: str, subject: str) -> str | None:
        """The id of the user with this identity at this provider."""
        return await self.session.scalar(
            select(UserRow.id).where(UserRow.oidc_issuer == issuer, UserRow.oidc_subject == subject)
        )

    async def link(self, user_id: str, *, issuer: str, subject: str) -> None:
        row = await self.session.get(UserRow, user_id)
        if row is None:
            return
        row.oidc_issuer, row.oidc_subject = issuer, subject
        try:
            await self.session.flush()
        except IntegrityError as exc:  # a simultaneous first sign-in of the same person
            raise Conflict(
                "This account was just created by another sign-in; sign in again."
            ) from exc

    async def names_taken(self, names: list[str]) -> set[str]:
        rows = await self.session.scalars(select(UserRow.name).where(UserRow.name.in_(names)))
        return set(rows)
