"""Organisations, teams, roles and sharing, end to end through the API.

Two organisations and three users: alice owns acme, bob is a member of acme and of its team
eng, carol administers globex. Each sees exactly what the role matrix says, a provider shared
with team eng is bob's and not carol's, and the audit log shows what happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.domain.access import GrantPermission
from homeport.services.container import Services
from homeport.services.sharing import SharedResource
from homeport.settings import Settings
from homeport.testing import FakeOpenAI
from tests.conftest import asgi_client, make_settings, new_user_key

pytestmark = pytest.mark.anyio


@dataclass
class World:
    admin: httpx.AsyncClient
    alice: httpx.AsyncClient
    bob: httpx.AsyncClient
    carol: httpx.AsyncClient
    fake: FakeOpenAI


async def ok(response: httpx.Response, status: int = 200) -> httpx.Response:
    assert response.status_code == status, response.text
    return response


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def world(
    services: Services, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> AsyncIterator[World]:
    await ok(
        await client.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
        ),
        201,
    )
    keys = {name: await new_user_key(client, name) for name in ("alice", "bob", "carol")}
    await ok(await client.post("/api/v1/orgs", json={"name": "acme", "owner": "alice"}), 201)
    await ok(
        await client.post("/api/v1/orgs", json={"name": "globex", "display_name": "Globex"}), 201
    )
    await ok(await client.put("/api/v1/orgs/globex/members/carol", json={"role": "admin"}))
    async with (
        asgi_client(services, keys["alice"]) as alice,
        asgi_client(services, keys["bob"]) as bob,
        asgi_client(services, keys["carol"]) as carol,
    ):
        # The owner of acme runs it: bob joins, and team eng.
        await ok(await alice.put("/api/v1/orgs/acme/members/bob", json={"role": "member"}))
        await ok(await alice.post("/api/v1/orgs/acme/teams", json={"name": "eng"}), 201)
        await ok(await alice.put("/api/v1/orgs/acme/teams/eng/members/bob"))
        yield World(client, alice, bob, carol, fake_openai)


def names(response: httpx.Response, field: str = "name") -> set[str]:
    assert response.status_code == 200, response.text
    return {item[field] for item in response.json()}


async def model_ids(http: httpx.AsyncClient) -> set[str]:
    response = await ok(await http.get("/v1/models"))
    return {m["id"] for m in response.json()["data"]}


async def chat(http: httpx.AsyncClient, model: str) -> httpx.Response:
    return await http.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
    )


# -- organisations and teams ----------------------------------------------------------------


async def test_each_user_sees_only_their_organisations(world: World) -> None:
    assert names(await world.admin.get("/api/v1/orgs")) == {"acme", "default", "globex"}
    assert names(await world.alice.get("/api/v1/orgs")) == {"acme", "default"}
    assert names(await world.bob.get("/api/v1/orgs")) == {"acme", "default"}
    assert names(await world.carol.get("/api/v1/orgs")) == {"globex", "default"}
    roles = {o["name"]: o["role"] for o in (await world.carol.get("/api/v1/orgs")).json()}
    assert roles == {"globex": "admin", "default": "member"}

    members = (await world.bob.get("/api/v1/orgs/acme/members")).json()
    assert {(m["name"], m["role"]) for m in members} == {("alice", "owner"), ("bob", "member")}
    sizes = {
        o["name"]: (o["member_count"], o["team_count"])
        for o in (await world.admin.get("/api/v1/orgs")).json()
    }
    assert sizes["acme"] == (2, 1) and sizes["globex"] == (2, 0)
    acme = (await world.bob.get("/api/v1/orgs/acme")).json()
    assert (acme["member_count"], acme["team_count"]) == (2, 1)
    team = await ok(await world.bob.get("/api/v1/orgs/acme/teams/eng"))
    assert [m["name"] for m in team.json()["members"]] == ["bob"]

    # Another organisation does not exist for them: 404, never 403.
    for path in (
        "/api/v1/orgs/globex",
        "/api/v1/orgs/globex/members",
        "/api/v1/orgs/globex/teams",
    ):
        response = await world.bob.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["message"] == "no organization 'globex'"
    assert (await world.carol.get("/api/v1/orgs/acme/teams/eng")).status_code == 404
    # Not even its administrator of globex can touch acme.
    intrude = await world.carol.put("/api/v1/orgs/acme/members/carol", json={"role": "owner"})
    assert intrude.status_code == 404


async def test_who_may_change_an_organisation(world: World) -> None:
    # A member may look, not change.
    response = await world.bob.put("/api/v1/orgs/acme/members/carol", json={"role": "member"})
    assert response.status_code == 403
    assert (await world.bob.post("/api/v1/orgs/acme/teams", json={"name": "x"})).status_code == 403
    # Only platform admins create organisations.
    assert (await world.alice.post("/api/v1/orgs", json={"name": "mine"})).status_code == 403
    # An org admin manages members, but only owners make owners.
    promote = await world.carol.put("/api/v1/orgs/globex/members/bob", json={"role": "owner"})
    assert promote.status_code == 403
    assert "only owners" in promote.json()["error"]["message"]
    await ok(await world.carol.put("/api/v1/orgs/globex/members/bob", json={"role": "viewer"}))
    await ok(await world.carol.delete("/api/v1/orgs/globex/members/bob"), 204)
    # The org keeps an owner.
    last = await world.alice.put("/api/v1/orgs/acme/members/alice", json={"role": "admin"})
    assert last.status_code == 400
    assert last.json()["error"]["code"] == "last_owner"
    assert (await world.alice.delete("/api/v1/orgs/acme/members/alice")).status_code == 400
    await ok(await world.alice.put("/api/v1/orgs/acme/members/carol", json={"role": "owner"}))
    await ok(await world.alice.put("/api/v1/orgs/acme/members/alice", json={"role": "admin"}))
    # Admins (not owners) cannot delete the organisation; its owners can.
    assert (await world.alice.delete("/api/v1/orgs/acme")).status_code == 403
    await ok(await world.carol.delete("/api/v1/orgs/acme"), 204)
    assert names(await world.bob.get("/api/v1/orgs")) == {"default"}
    gone = await world.admin.delete("/api/v1/orgs/default")
    assert gone.status_code == 400 and gone.json()["error"]["code"] == "default_org"


async def test_teams_hold_only_members_of_their_organisation(world: World) -> None:
    refused = await world.alice.put("/api/v1/orgs/acme/teams/eng/members/carol")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "not_a_member"
    assert names(await world.bob.get("/api/v1/orgs/acme/teams")) == {"eng"}
    renamed = await ok(await world.alice.patch("/api/v1/orgs/acme/teams/eng", json={"name": "rd"}))
    assert renamed.json()["name"] == "rd"
    clash = await world.alice.post("/api/v1/orgs/acme/teams", json={"name": "rd"})
    assert clash.status_code == 409
    # Leaving the organisation takes bob out of its teams too.
    await ok(await world.alice.delete("/api/v1/orgs/acme/members/bob"), 204)
    assert (await world.alice.get("/api/v1/orgs/acme/teams/rd")).json()["members"] == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bad_input_is_a_client_error(world: World) -> None:
    for response in (
        await world.admin.post("/api/v1/orgs", json={"name": "Not A Slug"}),
        await world.admin.post("/api/v1/orgs", json={"name": "acme"}),
        await world.admin.post("/api/v1/orgs", json={"name": "new", "owner": "nobody"}),
        await world.alice.put("/api/v1/orgs/acme/members/bob", json={"role": "boss"}),
        await world.alice.put("/api/v1/orgs/acme/members/nobody", json={"role": "member"}),
        await world.alice.post("/api/v1/orgs/acme/teams", json={"name": ""}),
        await world.alice.delete("/api/v1/orgs/acme/teams/nope"),
        await world.admin.post("/api/v1/sharing/provider/up", json={"subject_type": "user"}),
        await world.admin.post(
            "/api/v1/sharing/provider/up",
            json={"subject_type": "user", "subject": "bob", "permission": "edit"},
        ),
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "team", "subject": "nope"}
        ),
        await world.admin.get("/api/v1/sharing/nothing/up"),
        await world.admin.get("/api/v1/sharing/provider/nope"),
        await world.admin.delete("/api/v1/sharing/provider/up/grant_nope"),
        await world.admin.post("/api/v1/sharing/provider/up/transfer", json={"to_user": "bob"}),
    ):
        assert 400 <= response.status_code < 500, response.text
        assert response.status_code not in (401, 403), response.text


# -- sharing a provider -----------------------------------------------------------------------


async def test_a_provider_shared_with_team_eng_is_bobs_not_carols(world: World) -> None:
    everyone = {"up/fake-chat", "up/org/fake-chat-2", "up/fake-embed"}
    # Nobody granted it yet: everyone may use it.
    for http in (world.alice, world.bob, world.carol):
        assert everyone <= await model_ids(http)

    team = await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "team", "subject": "acme/eng"}
        ),
        201,
    )
    assert team.json()["subject_name"] == "acme/eng"
    assert team.json()["permission"] == "use"
    await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "user", "subject": "alice"}
        ),
        201,
    )
    listed = await ok(await world.admin.get("/api/v1/sharing/provider/up"))
    assert {g["subject_name"] for g in listed.json()} == {"acme/eng", "alice"}

    assert everyone <= await model_ids(world.bob)
    assert everyone <= await model_ids(world.alice)
    assert everyone <= await model_ids(world.admin)
    assert not any(m.startswith("up/") for m in await model_ids(world.carol))

    world.fake.enqueue("hello bob")
    answer = await ok(await chat(world.bob, "up/fake-chat"))
    assert answer.json()["choices"][0]["message"]["content"] == "hello bob"

    # To carol the model does not exist: the same answer as for a model that never did.
    hidden, missing = await chat(world.carol, "up/fake-chat"), await chat(world.carol, "up/nope")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "model_not_found"
    assert (await chat(world.carol, "fake-chat")).status_code == 404
    assert (await world.carol.get("/v1/models/up/fake-chat")).status_code == 404
    embed = await world.carol.post("/v1/embeddings", json={"model": "up/fake-embed", "input": "x"})
    assert embed.status_code == 404
    # Her stored chats cannot reach it either.
    session = await ok(await world.carol.post("/api/v1/sessions", json={}), 201)
    turn = await world.carol.post(
        f"/api/v1/sessions/{session.json()['id']}/messages",
        json={"content": "hi", "model": "up/fake-chat", "stream": False},
    )
    assert turn.status_code == 404

    # Bob may use it but not see or change who else may; carol does not even see it.
    assert (await world.bob.get("/api/v1/sharing/provider/up")).status_code == 403
    assert (await world.carol.get("/api/v1/sharing/provider/up")).status_code == 404
    steal = await world.carol.post(
        "/api/v1/sharing/provider/up", json={"subject_type": "user", "subject": "carol"}
    )
    assert steal.status_code == 404

    # Revoking the team's grant takes the provider from bob at once; alice keeps it.
    revoked = await world.admin.delete(f"/api/v1/sharing/provider/up/{team.json()['id']}")
    assert revoked.status_code == 204
    assert not any(m.startswith("up/") for m in await model_ids(world.bob))
    assert (await chat(world.bob, "up/fake-chat")).status_code == 404
    assert everyone <= await model_ids(world.alice)


async def test_bobs_own_sessions_reach_a_provider_shared_with_him(world: World) -> None:
    await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "user", "subject": "bob"}
        ),
        201,
    )
    session = await ok(await world.bob.post("/api/v1/sessions", json={"model": "fake-chat"}), 201)
    world.fake.enqueue("stored answer")
    turn = await ok(
        await world.bob.post(
            f"/api/v1/sessions/{session.json()['id']}/messages",
            json={"content": "hi", "stream": False},
        )
    )
    assert turn.json()["assistant_message"]["content"] == "stored answer"
    assert turn.json()["model"] == "up/fake-chat"


async def test_deleting_the_team_keeps_the_provider_closed(world: World) -> None:
    """No grants means everyone; so deleting the team a provider was shared with must not
    delete the grant, or the provider would open to all."""
    grant = await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "team", "subject": "acme/eng"}
        ),
        201,
    )
    await ok(await world.alice.delete("/api/v1/orgs/acme/teams/eng"), 204)
    for http in (world.alice, world.bob, world.carol):
        assert not any(m.startswith("up/") for m in await model_ids(http))
    listed = await ok(await world.admin.get("/api/v1/sharing/provider/up"))
    assert [g["subject_name"] for g in listed.json()] == ["(deleted)"]
    # Revoking the last grant is the explicit way to give it back to everyone.
    await ok(await world.admin.delete(f"/api/v1/sharing/provider/up/{grant.json()['id']}"), 204)
    assert "up/fake-chat" in await model_ids(world.carol)


async def test_an_org_grant_reaches_every_member(world: World) -> None:
    await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "org", "subject": "acme"}
        ),
        201,
    )
    assert "up/fake-chat" in await model_ids(world.alice)
    assert "up/fake-chat" in await model_ids(world.bob)
    assert "up/fake-chat" not in await model_ids(world.carol)
    # Only platform admins change a provider's sharing, even for the owner of acme.
    assert (await world.alice.get("/api/v1/sharing/provider/up")).status_code == 403


# -- sharing what users own: a resource type registered the way a plugin would --------------


class Notebooks:
    """A shareable type owned by users, kept in memory: what apps and knowledge will be."""

    name = "notebook"
    permissions = frozenset({GrantPermission.USE, GrantPermission.EDIT})
    open_without_grants = False
    owned = True

    def __init__(self) -> None:
        self.owners: dict[str, tuple[str, str]] = {}  # id -> (owner id, org id)

    async def find(self, resource_id: str) -> SharedResource | None:
        if resource_id not in self.owners:
            return None
        owner, org = self.owners[resource_id]
        return SharedResource(self.name, resource_id, owner_id=owner, org_id=org)

    async def transfer(self, session: AsyncSession, resource_id: str, to_user_id: str) -> None:
        self.owners[resource_id] = (to_user_id, self.owners[resource_id][1])

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        mine = [k for k, (owner, _) in self.owners.items() if owner == from_user_id]
        for key in mine:
            await self.transfer(session, key, to_user_id)
        return len(mine)


async def test_owners_share_with_what_they_can_see_and_hand_over(
    world: World, services: Services
) -> None:
    notebooks = Notebooks()
    services.sharing.register(notebooks)
    bob_id = (await world.bob.get("/api/v1/me")).json()["id"]
    acme_id = (await world.alice.get("/api/v1/orgs/acme")).json()["id"]
    notebooks.owners["nb1"] = (bob_id, acme_id)
    await ok(await world.carol.post("/api/v1/orgs/globex/teams", json={"name": "ops"}), 201)
    url = "/api/v1/sharing/notebook/nb1"

    # Bob shares with what he can see: his team (by its bare name), his organisation.
    team = await ok(await world.bob.post(url, json={"subject_type": "team", "subject": "eng"}), 201)
    assert team.json()["subject_name"] == "acme/eng"
    await ok(await world.bob.post(url, json={"subject_type": "org", "subject": "acme"}), 201)
    # Not globex or its teams: to him they do not exist.
    for subject_type, subject in (("org", "globex"), ("team", "globex/ops"), ("team", "ops")):
        response = await world.bob.post(
            url, json={"subject_type": subject_type, "subject": subject}
        )
        assert response.status_code == 404, (subject, response.text)

    # The owner of acme manages sharing of acme's notebooks; carol does not see it.
    assert len((await ok(await world.alice.get(url))).json()) == 2
    assert (await world.carol.get(url)).status_code == 404

    # Ownership moves within the organisation only.
    outsider = await world.bob.post(f"{url}/transfer", json={"to_user": "carol"})
    assert outsider.status_code == 400 and outsider.json()["error"]["code"] == "not_a_member"
    moved = await ok(await world.bob.post(f"{url}/transfer", json={"to_user": "alice"}))
    assert moved.json()["owner_id"] != bob_id
    # Bob now only uses it (through his team); an edit grant lets him share it again.
    assert (await world.bob.get(url)).status_code == 403
    await ok(
        await world.alice.post(
            url, json={"subject_type": "user", "subject": "bob", "permission": "edit"}
        ),
        201,
    )
    assert (await ok(await world.bob.get(url))).json()
    # Only the owner (or acme's admins) hands it over, not an editor.
    assert (await world.bob.post(f"{url}/transfer", json={"to_user": "bob"})).status_code == 403

    # When a user leaves, everything they own goes to a successor.
    async with services.db.transaction() as session:
        alice_id = (await world.alice.get("/api/v1/me")).json()["id"]
        assert await services.sharing.hand_over(session, alice_id, bob_id) == 1
    assert (await notebooks.find("nb1")) == SharedResource("notebook", "nb1", bob_id, acme_id)


# -- cross-tenant isolation ------------------------------------------------------------------


async def test_bob_never_reads_carols_sessions_keys_or_usage(
    world: World, services: Services
) -> None:
    world.fake.enqueue("carol's secret answer")
    session = await ok(await world.carol.post("/api/v1/sessions", json={"title": "plans"}), 201)
    session_id = session.json()["id"]
    await ok(
        await world.carol.post(
            f"/api/v1/sessions/{session_id}/messages",
            json={"content": "our plans", "model": "up/fake-chat", "stream": False},
        )
    )
    carol_keys = await ok(await world.carol.get("/api/v1/keys"))
    carol_key_id = carol_keys.json()[0]["id"]
    await services.usage.flush()

    for response in (
        await world.bob.get(f"/api/v1/sessions/{session_id}"),
        await world.bob.patch(f"/api/v1/sessions/{session_id}", json={"title": "mine"}),
        await world.bob.delete(f"/api/v1/sessions/{session_id}"),
        await world.bob.post(
            f"/api/v1/sessions/{session_id}/messages", json={"content": "x", "stream": False}
        ),
        await world.bob.delete(f"/api/v1/keys/{carol_key_id}"),
    ):
        assert response.status_code == 404, response.text
    assert (await world.bob.get("/api/v1/sessions")).json()["data"] == []
    assert (await world.bob.get("/api/v1/keys", params={"user": "carol"})).status_code == 403
    assert carol_key_id not in {k["id"] for k in (await world.bob.get("/api/v1/keys")).json()}

    # Usage: carol's request is on record, and bob sees none of it.
    everyone = await ok(await world.admin.get("/api/v1/usage", params={"group_by": "user"}))
    carol_id = (await world.carol.get("/api/v1/me")).json()["id"]
    assert carol_id in {row["user"] for row in everyone.json()["data"]}
    assert (await world.bob.get("/api/v1/usage", params={"user": "carol"})).status_code == 403
    mine = await ok(await world.bob.get("/api/v1/usage", params={"group_by": "user"}))
    assert carol_id not in {row.get("user") for row in mine.json()["data"]}

    still = await ok(await world.carol.get(f"/api/v1/sessions/{session_id}"))
    assert still.json()["title"] == "plans"


# -- the audit log ----------------------------------------------------------------------------


async def test_the_audit_log_shows_roles_and_sharing(world: World) -> None:
    grant = await ok(
        await world.admin.post(
            "/api/v1/sharing/provider/up", json={"subject_type": "team", "subject": "acme/eng"}
        ),
        201,
    )
    await ok(await world.admin.delete(f"/api/v1/sharing/provider/up/{grant.json()['id']}"), 204)

    roles = await ok(await world.admin.get("/api/v1/audit", params={"action": "role.changed"}))
    changes = {
        (e["details"]["org"], e["details"]["role"], e["details"]["previous"])
        for e in roles.json()["data"]
    }
    assert {("acme", "member", None), ("globex", "admin", None)} <= changes
    bob_id = (await world.bob.get("/api/v1/me")).json()["id"]
    alice_id = (await world.alice.get("/api/v1/me")).json()["id"]
    by_alice = [e for e in roles.json()["data"] if e["actor_user_id"] == alice_id]
    assert [e["target_id"] for e in by_alice] == [bob_id]

    sharing = await ok(await world.admin.get("/api/v1/audit", params={"action": "sharing.changed"}))
    events = sharing.json()["data"]
    assert [e["details"]["change"] for e in events] == ["revoked", "granted"]  # newest first
    assert {(e["target_type"], e["target_id"]) for e in events} == {("provider", "up")}
    teams = await ok(await world.admin.get("/api/v1/audit", params={"action": "team.*"}))
    assert {e["action"] for e in teams.json()["data"]} == {"team.created", "team.member_added"}
    # Members cannot read the audit log.
    assert (await world.alice.get("/api/v1/audit")).status_code == 403
