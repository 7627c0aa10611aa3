"""The admin Teams page in a real browser: organizations, their members and roles, teams and
their members; the API's refusals (a name taken, the last owner) shown, the form kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = live_server(tmp_path)
    yield live
    live.stop()


def create_user(server: LiveServer, name: str, *, admin: bool) -> None:
    created = httpx.post(
        f"{server.url}/api/v1/users",
        json={"name": name, "password": PASSWORD, "roles": ["admin"] if admin else ["user"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert created.status_code in (200, 201), created.text


def org_members(server: LiveServer, org: str) -> dict[str, str]:
    listed = httpx.get(
        f"{server.url}/api/v1/orgs/{org}/members",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert listed.status_code == 200, listed.text
    return {member["name"]: member["role"] for member in listed.json()}


def sign_in_to_teams(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_label("Name or email").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text("root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Teams").click()
    expect(page).to_have_url(f"{server.url}/admin/teams")
    expect(page.get_by_role("heading", name="Teams", level=1)).to_be_visible()


def test_an_admin_builds_an_org_with_a_team(page: Page, server: LiveServer) -> None:
    create_user(server, "root", admin=True)
    create_user(server, "grace", admin=False)
    sign_in_to_teams(page, server)

    page.get_by_label("Organization name").fill("acme")
    page.get_by_label("Display name (optional)").fill("Acme Inc.")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_have_text("Created acme.")
    expect(page.get_by_label("Organization name")).to_have_value("")
    orgs = page.get_by_role("table", name="Organizations")
    acme = orgs.get_by_role("row").filter(has=page.get_by_role("rowheader", name="acme"))
    cells = acme.get_by_role("cell")
    expect(cells.nth(0)).to_have_text("Acme Inc.")
    expect(cells.nth(1)).to_have_text("1")  # root, who created it, owns it
    expect(cells.nth(2)).to_have_text("0")

    acme.get_by_role("link", name="Members and teams of acme").click()
    expect(page).to_have_url(f"{server.url}/admin/teams/acme")
    expect(page.get_by_role("heading", name="Acme Inc. (acme)", level=2)).to_be_visible()
    members = page.get_by_role("table", name="Members of acme")
    expect(members.get_by_role("rowheader", name="root")).to_be_visible()
    expect(members.get_by_role("combobox", name="Role of root")).to_have_value("owner")

    page.get_by_label("User", exact=True).select_option(label="grace")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_have_text("Added grace to acme as viewer.")
    expect(members.get_by_role("combobox", name="Role of grace")).to_have_value("viewer")
    expect(cells.nth(1)).to_have_text("2")  # the list's count follows

    members.get_by_role("combobox", name="Role of grace").select_option("member")
    members.get_by_role("button", name="Change role of grace").click()
    expect(page.get_by_role("status")).to_have_text("grace is now member of acme.")
    assert org_members(server, "acme") == {"root": "owner", "grace": "member"}

    page.get_by_label("Team name").fill("eng")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("status")).to_have_text("Created team eng.")
    expect(cells.nth(2)).to_have_text("1")
    teams = page.get_by_role("table", name="Teams of acme")
    teams.get_by_role("button", name="Members of team eng").click()
    expect(page.get_by_role("heading", name="Members of team eng")).to_be_visible()
    expect(page.get_by_text("Nobody is in this team yet.")).to_be_visible()
    page.get_by_label("Member to add to eng").select_option(label="grace")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_role("status")).to_have_text("Added grace to team eng.")
    in_eng = page.get_by_role("table", name="Members of team eng")
    expect(in_eng.get_by_role("rowheader")).to_have_text(["grace"])

    in_eng.get_by_role("button", name="Remove grace from team eng").click()
    expect(page.get_by_role("status")).to_have_text("Removed grace from team eng.")
    expect(page.get_by_text("Nobody is in this team yet.")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    members.get_by_role("button", name="Remove grace").click()
    expect(page.get_by_role("status")).to_have_text("Removed grace from acme.")
    expect(members.get_by_role("rowheader", name="grace")).to_have_count(0)
    assert org_members(server, "acme") == {"root": "owner"}

    page.once("dialog", lambda dialog: dialog.accept())
    teams.get_by_role("button", name="Delete team eng").click()
    expect(page.get_by_role("status")).to_have_text("Deleted team eng.")
    expect(page.get_by_text("No teams yet.")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    acme.get_by_role("button", name="Delete acme").click()
    expect(page.get_by_role("status")).to_have_text("Deleted acme.")
    expect(page).to_have_url(f"{server.url}/admin/teams")
    expect(orgs.get_by_role("rowheader", name="acme")).to_have_count(0)


def test_the_apis_refusals_are_shown_and_the_form_kept(page: Page, server: LiveServer) -> None:
    create_user(server, "root", admin=True)
    sign_in_to_teams(page, server)
    page.get_by_label("Organization name").fill("acme")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("status")).to_have_text("Created acme.")
    expect(page.get_by_label("Organization name")).to_have_value("")

    page.get_by_label("Organization name").fill("acme")
    page.get_by_label("Display name (optional)").fill("Acme again")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("alert")).to_contain_text("an organization named 'acme' already exists")
    expect(page.get_by_label("Organization name")).to_have_value("acme")
    expect(page.get_by_label("Display name (optional)")).to_have_value("Acme again")
    expect(page.get_by_role("rowheader", name="acme")).to_have_count(1)

    # The only owner cannot step down: the API says why, and nothing changes.
    page.goto(f"{server.url}/admin/teams/acme")
    members = page.get_by_role("table", name="Members of acme")
    members.get_by_role("combobox", name="Role of root").select_option("admin")
    members.get_by_role("button", name="Change role of root").click()
    expect(page.get_by_role("alert")).to_contain_text("must keep at least one owner")
    expect(members.get_by_role("combobox", name="Role of root")).to_have_value(
        "admin"
    )  # the choice stays
    assert org_members(server, "acme") == {"root": "owner"}
