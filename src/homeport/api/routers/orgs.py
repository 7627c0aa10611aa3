"""Organizations, their members and teams (/api/v1/orgs).

`{org}`, `{team}` and `{user}` take an id or a name. Organizations a caller does not belong to
answer 404, as if they did not exist; services/access.py says who may change what.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from homeport.api.deps import OrgsManager, OrgsReader, ServicesDep, UsersAdmin
from homeport.api.schemas.access import (
    MemberOut,
    MemberSet,
    OrgCreate,
    OrgOut,
    OrgUpdate,
    TeamCreate,
    TeamOut,
    TeamUpdate,
)

router = APIRouter(prefix="/api/v1/orgs", tags=["organizations"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_org(body: OrgCreate, services: ServicesDep, admin: UsersAdmin) -> OrgOut:
    """Create an organization (platform admins); `owner` (default: you) becomes its owner."""
    view = await services.access.create_org(
        admin, name=body.name, display_name=body.display_name, owner=body.owner
    )
    return OrgOut.of(view)


@router.get("")
async def list_orgs(services: ServicesDep, principal: OrgsReader) -> list[OrgOut]:
    """Your organizations (platform admins: all of them)."""
    return [OrgOut.of(v) for v in await services.access.list_orgs(principal)]


@router.get("/{org}")
async def get_org(org: str, services: ServicesDep, principal: OrgsReader) -> OrgOut:
    return OrgOut.of(await services.access.get_org(principal, org))


@router.patch("/{org}")
async def update_org(
    org: str, body: OrgUpdate, services: ServicesDep, principal: OrgsManager
) -> OrgOut:
    view = await services.access.update_org(principal, org, display_name=body.display_name)
    return OrgOut.of(view)


@router.delete("/{org}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_org(org: str, services: ServicesDep, principal: OrgsManager) -> None:
    """Delete an organization with its teams and memberships (owners and platform admins)."""
    await services.access.delete_org(principal, org)


# -- members --------------------------------------------------------------------------------


@router.get("/{org}/members")
async def list_members(org: str, services: ServicesDep, principal: OrgsReader) -> list[MemberOut]:
    return [MemberOut.of(m) for m in await services.access.members(principal, org)]


@router.put("/{org}/members/{user}")
async def set_member(
    org: str, user: str, body: MemberSet, services: ServicesDep, principal: OrgsManager
) -> MemberOut:
    """Add a user to the organization or change their role (only owners touch owners)."""
    return MemberOut.of(await services.access.set_member(principal, org, user, body.role))


@router.delete("/{org}/members/{user}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(org: str, user: str, services: ServicesDep, principal: OrgsManager) -> None:
    """Take a user out of the organization and its teams."""
    await services.access.remove_member(principal, org, user)


# -- teams ----------------------------------------------------------------------------------


@router.get("/{org}/teams")
async def list_teams(org: str, services: ServicesDep, principal: OrgsReader) -> list[TeamOut]:
    return [TeamOut.of(t) for t in await services.access.teams(principal, org)]


@router.post("/{org}/teams", status_code=status.HTTP_201_CREATED)
async def create_team(
    org: str, body: TeamCreate, services: ServicesDep, principal: OrgsManager
) -> TeamOut:
    return TeamOut.of_view(await services.access.create_team(principal, org, body.name))


@router.get("/{org}/teams/{team}")
async def get_team(org: str, team: str, services: ServicesDep, principal: OrgsReader) -> TeamOut:
    return TeamOut.of_view(await services.access.get_team(principal, org, team))


@router.patch("/{org}/teams/{team}")
async def rename_team(
    org: str, team: str, body: TeamUpdate, services: ServicesDep, principal: OrgsManager
) -> TeamOut:
    return TeamOut.of_view(await services.access.rename_team(principal, org, team, body.name))


@router.delete("/{org}/teams/{team}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(org: str, team: str, services: ServicesDep, principal: OrgsManager) -> None:
    await services.access.delete_team(principal, org, team)


@router.put("/{org}/teams/{team}/members/{user}")
async def add_team_member(
    org: str, team: str, user: str, services: ServicesDep, principal: OrgsManager
) -> TeamOut:
    """Put a member of the organization into the team."""
    view = await services.access.add_team_member(principal, org, team, user)
    return TeamOut.of_view(view)


@router.delete("/{org}/teams/{team}/members/{user}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_team_member(
    org: str, team: str, user: str, services: ServicesDep, principal: OrgsManager
) -> None:
    await services.access.remove_team_member(principal, org, team, user)
