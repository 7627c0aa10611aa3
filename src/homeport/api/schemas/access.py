"""Bodies of the organization, team and sharing routes (strict: unknown fields are errors)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from homeport.domain.access import GrantPermission, OrgRole, SubjectType, Team
from homeport.services.access import Member, OrgView, TeamView
from homeport.services.sharing import SharedResource, SharedWith

SLUG = r"^[a-z0-9][a-z0-9_.-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- organizations -------------------------------------------------------------------------


class OrgCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=SLUG)
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    owner: str | None = Field(
        default=None, description="User id or name of its first owner (default: you)"
    )


class OrgUpdate(Strict):
    display_name: str = Field(min_length=1, max_length=200)


class OrgOut(BaseModel):
    id: str
    name: str
    display_name: str
    created_at: datetime
    role: OrgRole | None = Field(description="Your role in it (null: you are not a member)")
    member_count: int = Field(description="How many members it has")
    team_count: int = Field(description="How many teams it has")

    @classmethod
    def of(cls, view: OrgView) -> OrgOut:
        org = view.org
        return cls(
            id=org.id,
            name=org.name,
            display_name=org.display_name,
            created_at=org.created_at,
            role=view.role,
            member_count=view.members,
            team_count=view.teams,
        )


class MemberSet(Strict):
    role: OrgRole


class MemberOut(BaseModel):
    user_id: str
    name: str
    role: OrgRole

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(user_id=member.user_id, name=member.name, role=member.role)


# -- teams ----------------------------------------------------------------------------------


class TeamCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=SLUG)


class TeamUpdate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=SLUG)


class TeamMemberOut(BaseModel):
    user_id: str
    name: str


class TeamOut(BaseModel):
    id: str
    org_id: str
    name: str
    created_at: datetime
    members: list[TeamMemberOut] | None = Field(
        default=None, description="Only when one team is asked for"
    )

    @classmethod
    def of(cls, team: Team, members: list[tuple[str, str]] | None = None) -> TeamOut:
        return cls(
            id=team.id,
            org_id=team.org_id,
            name=team.name,
            created_at=team.created_at,
            members=None
            if members is None
            else [TeamMemberOut(user_id=i, name=n) for i, n in members],
        )

    @classmethod
    def of_view(cls, view: TeamView) -> TeamOut:
        return cls.of(view.team, view.members)


# -- sharing --------------------------------------------------------------------------------


class GrantIn(Strict):
    subject_type: SubjectType
    subject: str = Field(
        min_length=1,
        max_length=200,
        description="Id or name: a user, a team (id, org/team, or a name unique among your "
        "organizations), an organization",
    )
    permission: GrantPermission = GrantPermission.USE


class GrantOut(BaseModel):
    id: str
    resource_type: str
    resource_id: str
    subject_type: SubjectType
    subject_id: str
    subject_name: str
    permission: GrantPermission
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, shared: SharedWith) -> GrantOut:
        grant = shared.grant
        return cls(
            id=grant.id,
            resource_type=grant.resource_type,
            resource_id=grant.resource_id,
            subject_type=grant.subject_type,
            subject_id=grant.subject_id,
            subject_name=shared.subject_name,
            permission=grant.permission,
            created_by=grant.created_by,
            created_at=grant.created_at,
        )


class TransferIn(Strict):
    to_user: str = Field(min_length=1, max_length=100, description="User id or name")


class OwnerOut(BaseModel):
    resource_type: str
    resource_id: str
    owner_id: str | None
    org_id: str | None

    @classmethod
    def of(cls, resource: SharedResource) -> OwnerOut:
        return cls(
            resource_type=resource.type,
            resource_id=resource.id,
            owner_id=resource.owner_id,
            org_id=resource.org_id,
        )
