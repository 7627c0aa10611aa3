"""Apps and their versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.repositories.access import granted_to
from homeport.db.tables import AppRow, AppVersionRow, GrantRow, utcnow
from homeport.domain.apps import App, AppVersion
from homeport.domain.ids import new_id
from homeport.domain.users import Principal

RESOURCE_TYPE = "app"


def _app(row: AppRow) -> App:
    return App(
        id=row.id,
        name=row.name,
        owner_id=row.owner_id,
        current_version=row.current_version,
        published=row.published,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _version(row: AppVersionRow) -> AppVersion:
    return AppVersion(
        id=row.id,
        app_id=row.app_id,
        number=row.number,
        spec=dict(row.spec),
        models=list(row.models or []),
        content_hash=row.content_hash,
        label=row.label,
        git=dict(row.git or {}),
        created_by=row.created_by,
        created_at=row.created_at,
        draft=row.draft,
    )


def usable_by(principal: Principal) -> Any:
    """Apps the principal may use: theirs, shared with them, or published (in the query)."""
    if principal.is_admin:
        return true()
    return or_(
        AppRow.owner_id == principal.user_id,
        AppRow.published.is_(True),
        AppRow.id.in_(
            select(GrantRow.resource_id).where(granted_to(principal, resource_type=RESOURCE_TYPE))
        ),
    )


class AppRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def by_name(self, name: str) -> App | None:
        row = await self.session.scalar(select(AppRow).where(AppRow.name == name))
        return _app(row) if row else None

    async def get(self, app_id: str) -> App | None:
        row = await self.session.get(AppRow, app_id)
        return _app(row) if row else None

    async def usable(self, principal: Principal) -> list[App]:
        rows = await self.session.scalars(
            select(AppRow).where(usable_by(principal)).order_by(AppRow.name)
        )
        return [_app(r) for r in rows]

    async def create(self, *, name: str, owner_id: str) -> App:
        row = AppRow(id=new_id("app"), name=name, owner_id=owner_id, current_version=0)
        self.session.add(row)
        await self.session.flush()
        return _app(row)

    async def add_version(self, app_id: str, *, draft: bool = False, **values: Any) -> AppVersion:
        """The next version (numbered after the highest), made current unless a draft."""
        highest = await self.session.scalar(
            select(func.max(AppVersionRow.number)).where(AppVersionRow.app_id == app_id)
        )
        number = int(highest or 0) + 1
        row = AppVersionRow(id=new_id("appv"), app_id=app_id, number=number, draft=draft, **values)
        self.session.add(row)
        if not draft:
            await self.session.execute(
                update(AppRow)
                .where(AppRow.id == app_id)
                .values(current_version=number, updated_at=utcnow())
            )
        await self.session.flush()
        return _version(row)

    async def by_content(self, app_id: str, content_hash: str) -> AppVersion | None:
        """The latest version with exactly this spec."""
        row = await self.session.scalar(
            select(AppVersionRow)
            .where(AppVersionRow.app_id == app_id, AppVersionRow.content_hash == content_hash)
            .order_by(AppVersionRow.number.desc())
            .limit(1)
        )
        return _version(row) if row else None

    async def version(self, app_id: str, number: int) -> AppVersion | None:
        row = await self.session.scalar(
            select(AppVersionRow).where(
                AppVersionRow.app_id == app_id, AppVersionRow.number == number
            )
        )
        return _version(row) if row else None

    async def versions(self, app_id: str) -> list[AppVersion]:
        rows = await self.session.scalars(
            select(AppVersionRow)
            .where(AppVersionRow.app_id == app_id)
            .order_by(AppVersionRow.number.desc())
        )
        return [_version(r) for r in rows]

    async def set(self, app_id: str, **values: Any) -> None:
        await self.session.execute(
            update(AppRow).where(AppRow.id == app_id).values(updated_at=utcnow(), **values)
        )

    async def delete(self, app_id: str) -> None:
        await self.session.execute(delete(AppVersionRow).where(AppVersionRow.app_id == app_id))
        await self.session.execute(delete(AppRow).where(AppRow.id == app_id))

    async def hand_over(self, from_user_id: str, to_user_id: str) -> int:
        result = await self.session.execute(
            update(AppRow).where(AppRow.owner_id == from_user_id).values(owner_id=to_user_id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def erase(self, user_id: str) -> None:
        owned = select(AppRow.id).where(AppRow.owner_id == user_id)
        await self.session.execute(delete(AppVersionRow).where(AppVersionRow.app_id.in_(owned)))
        await self.session.execute(delete(AppRow).where(AppRow.owner_id == user_id))
