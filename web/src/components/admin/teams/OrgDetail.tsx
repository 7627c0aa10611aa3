import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient, type User } from "../../../api/client";
import type { components } from "../../../api/schema";
import { ActionFeedback, AdminTable, DeleteButton } from "../AdminTable";
import { TextField } from "../TextField";
import { UserOptions } from "../users";
import { useAdminList } from "../useAdminList";
import { TeamMembers } from "./TeamMembers";

type Org = components["schemas"]["OrgOut"];
type Member = components["schemas"]["MemberOut"];
type Team = components["schemas"]["TeamOut"];
export type OrgRole = Member["role"];

/** What an organization's or a team's name may be (as the server checks it): an input's
 *  `pattern`, and the `title` a browser shows when a name does not match it. */
export const NAME_RULE = {
  pattern: "[a-z0-9][a-z0-9_.\\-]*",
  title: "Lowercase letters, digits, and . _ - (not first)",
};

export const ROLES: { value: OrgRole; label: string }[] = [
  { value: "owner", label: "Owner" },
  { value: "admin", label: "Admin" },
  { value: "member", label: "Member" },
  { value: "viewer", label: "Viewer" },
];

/** Run an action; true when it worked (useAdminList's `act`). */
type Act = (action: () => Promise<unknown>, done: string) => Promise<boolean>;

/** One organization: its members (add with a role, change a role, remove) and its teams
 *  (create, delete, and the open one's members). The server says what is allowed: its refusals
 *  (the last owner, say) are shown as they come. */
export function OrgDetail(props: {
  client: ApiClient;
  org: Org;
  users: User[];
  onChanged: () => void;
}) {
  const { client, org } = props;
  const [openTeam, setOpenTeam] = useState<string | null>(null);
  const fetchDetail = useCallback(async () => {
    const path = { org: org.id };
    const [members, teams] = await Promise.all([
      call(client.GET("/api/v1/orgs/{org}/members", { params: { path } })),
      call(client.GET("/api/v1/orgs/{org}/teams", { params: { path } })),
    ]);
    // The open team, with its members (unless it has just gone).
    const team = teams.find((candidate) => candidate.id === openTeam);
    const teamPath = team && { ...path, team: team.id };
    const opened = teamPath
      ? await call(client.GET("/api/v1/orgs/{org}/teams/{team}", { params: { path: teamPath } }))
      : null;
    return { members, teams, opened };
  }, [client, org.id, openTeam]);
  const { data, error, setError, notice, act } = useAdminList(fetchDetail);
  // What changes here changes the organizations' list too (how many members and teams).
  const change: Act = async (action, done) => {
    const worked = await act(action, done);
    if (worked) props.onChanged();
    return worked;
  };
  const title = `org-${org.id}-title`;
  const members = data?.members ?? null;

  return (
    <section className="admin-part" aria-labelledby={title}>
      <h2 id={title}>
        {org.display_name}
        {org.display_name !== org.name && <span className="hint"> ({org.name})</span>}
      </h2>
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      <Members client={client} org={org} users={props.users} members={members} act={change} />
      <Teams
        client={client}
        org={org}
        teams={data?.teams ?? null}
        openTeam={openTeam}
        onOpen={setOpenTeam}
        act={change}
      />
      {data?.opened && (
        <TeamMembers
          client={client}
          org={org}
          team={data.opened}
          members={members ?? []}
          act={change}
        />
      )}
    </section>
  );
}

function Members(props: {
  client: ApiClient;
  org: Org;
  users: User[];
  members: Member[] | null;
  act: Act;
}) {
  const { client, org, act } = props;
  const joined = new Set(props.members?.map((member) => member.user_id));

  function setRole(user: { id: string; name: string }, role: OrgRole, done: string) {
    const path = { org: org.id, user: user.id };
    const body = { role };
    return act(
      () => call(client.PUT("/api/v1/orgs/{org}/members/{user}", { params: { path }, body })),
      done,
    );
  }

  function remove(member: Member) {
    const path = { org: org.id, user: member.user_id };
    void act(
      () => call(client.DELETE("/api/v1/orgs/{org}/members/{user}", { params: { path } })),
      `Removed ${member.name} from ${org.name}.`,
    );
  }

  return (
    <>
      <h3>Members of {org.name}</h3>
      <AddMember
        org={org}
        candidates={props.users.filter((user) => !joined.has(user.id))}
        onAdd={(user, role) => setRole(user, role, `Added ${user.name} to ${org.name} as ${role}.`)}
      />
      <AdminTable
        label={`Members of ${org.name}`}
        columns={["Name", "Role", "Actions"]}
        items={props.members}
        empty="No members."
        row={(member) => (
          <MemberRow
            key={`${member.user_id}:${member.role}`}
            org={org}
            member={member}
            onRole={(role) =>
              setRole(
                { id: member.user_id, name: member.name },
                role,
                `${member.name} is now ${role} of ${org.name}.`,
              )
            }
            onRemove={() => remove(member)}
          />
        )}
      />
    </>
  );
}

function AddMember(props: {
  org: Org;
  candidates: User[];
  onAdd: (user: User, role: OrgRole) => Promise<boolean>;
}) {
  const [userId, setUserId] = useState("");
  const [role, setRole] = useState<OrgRole>("member");
  const [busy, setBusy] = useState(false);
  const user = props.candidates.find((candidate) => candidate.id === userId);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!user) return;
    setBusy(true);
    const added = await props.onAdd(user, role);
    setBusy(false);
    if (!added) return;
    setUserId("");
    setRole("member");
  }

  const id = `add-member-${props.org.id}`;
  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>Add a member</h4>
      <div className="fields">
        <div>
          <label htmlFor={`${id}-user`}>User</label>
          <select
            id={`${id}-user`}
            value={userId}
            onChange={(event) => setUserId(event.target.value)}
          >
            <option value="">Choose a user…</option>
            <UserOptions users={props.candidates} />
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-role`}>Role</label>
          <select
            id={`${id}-role`}
            value={role}
            onChange={(event) => setRole(event.target.value as OrgRole)}
          >
            {ROLES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <button type="submit" disabled={busy || !user}>
        {busy ? "Adding…" : "Add member"}
      </button>
    </form>
  );
}

/** A member: their role, changed with its own button (so that moving through the choices
 *  with the keyboard changes nothing), and removal. */
function MemberRow(props: {
  org: Org;
  member: Member;
  onRole: (role: OrgRole) => Promise<boolean>;
  onRemove: () => void;
}) {
  const { member } = props;
  const [role, setRole] = useState<OrgRole>(member.role);
  const id = `role-${member.user_id}`;

  function submit(event: FormEvent) {
    event.preventDefault();
    if (role !== member.role) void props.onRole(role);
  }

  return (
    <tr>
      <th scope="row">{member.name}</th>
      <td>
        <form className="inline-form" onSubmit={submit}>
          <label htmlFor={id} className="visually-hidden">
            Role of {member.name}
          </label>
          <select id={id} value={role} onChange={(event) => setRole(event.target.value as OrgRole)}>
            {ROLES.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label}
              </option>
            ))}
          </select>
          <button
            type="submit"
            className="secondary"
            disabled={role === member.role}
            aria-label={`Change role of ${member.name}`}
          >
            Change
          </button>
        </form>
      </td>
      <td className="row-actions">
        <DeleteButton
          label={`Remove ${member.name}`}
          confirm={`Remove ${member.name} from ${props.org.name}? They leave its teams too.`}
          onDelete={props.onRemove}
        >
          Remove
        </DeleteButton>
      </td>
    </tr>
  );
}

function Teams(props: {
  client: ApiClient;
  org: Org;
  teams: Team[] | null;
  openTeam: string | null;
  onOpen: (team: string | null) => void;
  act: Act;
}) {
  const { client, org, act } = props;

  function remove(team: Team) {
    if (props.openTeam === team.id) props.onOpen(null);
    const path = { org: org.id, team: team.id };
    void act(
      () => call(client.DELETE("/api/v1/orgs/{org}/teams/{team}", { params: { path } })),
      `Deleted team ${team.name}.`,
    );
  }

  return (
    <>
      <h3>Teams of {org.name}</h3>
      <CreateTeam
        org={org}
        onCreate={(name) =>
          act(
            () =>
              call(
                client.POST("/api/v1/orgs/{org}/teams", {
                  params: { path: { org: org.id } },
                  body: { name },
                }),
              ),
            `Created team ${name}.`,
          )
        }
      />
      <AdminTable
        label={`Teams of ${org.name}`}
        columns={["Team", "Created", "Actions"]}
        items={props.teams}
        empty="No teams yet."
        row={(team) => {
          const open = props.openTeam === team.id;
          return (
            <tr key={team.id}>
              <th scope="row">{team.name}</th>
              <td>{new Date(team.created_at).toLocaleDateString()}</td>
              <td className="row-actions">
                <button
                  type="button"
                  className="secondary"
                  aria-expanded={open}
                  aria-label={`Members of team ${team.name}`}
                  onClick={() => props.onOpen(open ? null : team.id)}
                >
                  {open ? "Hide members" : "Members"}
                </button>
                <DeleteButton
                  label={`Delete team ${team.name}`}
                  confirm={`Delete the team “${team.name}” of ${org.name}?`}
                  onDelete={() => remove(team)}
                >
                  Delete
                </DeleteButton>
              </td>
            </tr>
          );
        }}
      />
    </>
  );
}

function CreateTeam(props: { org: Org; onCreate: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const id = `new-team-${props.org.id}`;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const created = await props.onCreate(name.trim());
    setBusy(false);
    if (created) setName("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h4 id={`${id}-title`}>New team</h4>
      <div className="fields">
        <TextField
          id={`${id}-name`}
          label="Team name"
          required
          autoComplete="off"
          {...NAME_RULE}
          value={name}
          onChange={setName}
        />
      </div>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : "Create team"}
      </button>
    </form>
  );
}
