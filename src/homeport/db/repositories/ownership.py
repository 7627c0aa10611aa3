"""What belongs to a user: handed over to another user, or erased, when the user is deleted.

Resources a user owns (chat sessions today; apps, knowledge bases and secrets later) move to
the new owner or go away with the user. What only makes sense for the user themselves (keys,
browser sessions, memberships, quotas) always goes. Grants *to* the user stay: they reach
nobody once the user is gone (ids are never reused), and deleting them could leave a
resource with no grants at all, which for providers means open to everyone.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import (
    ApiKeyRow,
    BrowserSessionRow,
    ChatSessionRow,
    GrantRow,
    MembershipRow,
    MessageRow,
    QuotaRow,
    TeamMemberRow,
    UserRow,
)


class UserDataRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def hand_over(self, from_user_id: str, to_user_id: str) -> int:
        """Move what the user owns to another user; returns the chat sessions moved."""
        result = await self.session.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.user_id == from_user_id)
            .values(user_id=to_user_id)
        )
        await self.session.execute(
            update(GrantRow)
            .where(GrantRow.created_by == from_user_id)
            .values(created_by=to_user_id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def erase_owned(self, user_id: str) -> int:
        """Delete what the user owns; returns the chat sessions deleted."""
        owned = select(ChatSessionRow.id).where(ChatSessionRow.user_id == user_id)
        await self.session.execute(delete(MessageRow).where(MessageRow.session_id.in_(owned)))
        result = await self.session.execute(
            delete(ChatSessionRow).where(ChatSessionRow.user_id == user_id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def remove_user(self, user_id: str) -> None:
        """The user's keys, sign-ins, memberships and quotas, then the user."""
        keys = select(ApiKeyRow.id).where(ApiKeyRow.user_id == user_id)
        await self.session.execute(
            delete(QuotaRow).where(
                ((QuotaRow.subject_type == "user") & (QuotaRow.subject_id == user_id))
                | ((QuotaRow.subject_type == "key") & QuotaRow.subject_id.in_(keys))
            )
        )
        for table in (ApiKeyRow, BrowserSessionRow, MembershipRow, TeamMemberRow):
            await self.session.execute(delete(table).where(table.user_id == user_id))
        await self.session.execute(delete(UserRow).where(UserRow.id == user_id))
