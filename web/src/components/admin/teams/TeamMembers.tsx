import { useState, type FormEvent } from "react";
import { call, type ApiClient } from "../../../api/client";
import type { components } from "../../../api/schema";
import { AdminTable, DeleteButton } from "../AdminTable";

type Org = components["schemas"]["OrgOut"];
type Member = components["schemas"]["MemberOut"];
type Team = components["schemas"]["TeamOut"];

/** The open team's members: add one of the organization's members, remove one. */
export function TeamMembers(props: {
  client: ApiClient;
  org: Org;
  team: Team;
  members: Member[];
  act: (action: () => Promise<unknown>, done: string) => Promise<boolean>;
}) {
  const { client, org, team, act } = props;
  const inTeam = team.members ?? [];
  const ids = new Set(inTeam.map((member) => member.user_id));
  const title = `team-${team.id}-title`;

  function add(member: Member) {
    const path = { org: org.id, team: team.id, user: member.user_id };
    return act(
      () =>
        call(client.PUT("/api/v1/orgs/{org}/teams/{team}/members/{user}", { params: { path } })),
      `Added ${member.name} to team ${team.name}.`,
    );
  }

  function remove(member: { user_id: string; name: string }) {
    const path = { org: org.id, team: team.id, user: member.user_id };
    void act(
      () =>
        call(client.DELETE("/api/v1/orgs/{org}/teams/{team}/members/{user}", { params: { path } })),
      `Removed ${member.name} from team ${team.name}.`,
    );
  }

  return (
    <section className="admin-part" aria-labelledby={title}>
      <h3 id={title}>Members of team {team.name}</h3>
      <AddToTeam
        team={team}
        candidates={props.members.filter((member) => !ids.has(member.user_id))}
        onAdd={add}
      />
      <AdminTable
        label={`Members of team ${team.name}`}
        columns={["Name", "Actions"]}
        items={inTeam}
        empty="Nobody is in this team yet."
        row={(member) => (
          <tr key={member.user_id}>
            <th scope="row">{member.name}</th>
            <td className="row-actions">
              <DeleteButton
                label={`Remove ${member.name} from team ${team.name}`}
                onDelete={() => remove(member)}
              >
                Remove
              </DeleteButton>
            </td>
          </tr>
        )}
      />
    </section>
  );
}

function AddToTeam(props: {
  team: Team;
  candidates: Member[];
  onAdd: (member: Member) => Promise<boolean>;
}) {
  const [userId, setUserId] = useState("");
  const [busy, setBusy] = useState(false);
  const member = props.candidates.find((candidate) => candidate.user_id === userId);
  const id = `add-to-team-${props.team.id}`;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!member) return;
    setBusy(true);
    const added = await props.onAdd(member);
    setBusy(false);
    if (added) setUserId("");
  }

  return (
    <form className="admin-form" onSubmit={submit}>
      <div className="fields">
        <div>
          <label htmlFor={id}>Member to add to {props.team.name}</label>
          <select id={id} value={userId} onChange={(event) => setUserId(event.target.value)}>
            <option value="">
              {props.candidates.length ? "Choose a member…" : "Every member is in it"}
            </option>
            {props.candidates.map((candidate) => (
              <option key={candidate.user_id} value={candidate.user_id}>
                {candidate.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" disabled={busy || !member}>
        {busy ? "Adding…" : "Add to team"}
      </button>
    </form>
  );
}
