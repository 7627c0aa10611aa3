import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient, type User } from "../../../api/client";
import type { components } from "../../../api/schema";
import { followLink, orgNameOf, teamsPath, usePath } from "../../../router";
import { ActionFeedback, AdminTable, DeleteButton } from "../AdminTable";
import { TextField } from "../TextField";
import { useAdminList } from "../useAdminList";
import { UserOptions, useUsers } from "../users";
import { NAME_RULE, OrgDetail } from "./OrgDetail";

type Org = components["schemas"]["OrgOut"];
type OrgCreate = components["schemas"]["OrgCreate"];

/** Organizations: list (with how many members and teams each has), create, delete; the one
 *  `/admin/teams/<name>` opens shows its members and teams (OrgDetail). */
export function TeamsAdmin({ client }: { client: ApiClient }) {
  const [path, navigate] = usePath();
  const opened = orgNameOf(path);
  const fetchList = useCallback(() => call(client.GET("/api/v1/orgs")), [client]);
  const { data: orgs, error, setError, notice, setNotice, act, load } = useAdminList(fetchList);
  const users = useUsers(client);
  const org = orgs?.find((candidate) => candidate.name === opened) ?? null;

  async function remove(target: Org) {
    // Close it first: what it said about itself would outlive it.
    if (target.name === opened) navigate(teamsPath(null));
    const path = { org: target.id };
    await act(
      () => call(client.DELETE("/api/v1/orgs/{org}", { params: { path } })),
      `Deleted ${target.name}.`,
    );
  }

  const changed = useCallback(() => {
    setNotice(null);
    void load();
  }, [setNotice, load]);

  return (
    <section aria-labelledby="teams-title">
      <h1 id="teams-title">Teams</h1>
      <p className="hint">Organizations, their members and roles, and their teams.</p>
      <CreateOrg
        users={users}
        onCreate={(body) =>
          act(() => call(client.POST("/api/v1/orgs", { body })), `Created ${body.name}.`)
        }
      />
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      <AdminTable
        label="Organizations"
        columns={["Name", "Display name", "Members", "Teams", "Actions"]}
        items={orgs}
        empty="No organizations yet."
        row={(item) => (
          <tr key={item.id}>
            <th scope="row">{item.name}</th>
            <td>{item.display_name}</td>
            <td className="number">{item.member_count}</td>
            <td className="number">{item.team_count}</td>
            <td className="row-actions">
              <a
                href={teamsPath(item.name)}
                aria-current={item.name === opened ? "true" : undefined}
                aria-label={`Members and teams of ${item.name}`}
                onClick={(event) => {
                  setNotice(null);
                  followLink(event, teamsPath(item.name));
                }}
              >
                Members and teams
              </a>{" "}
              <DeleteButton
                label={`Delete ${item.name}`}
                confirm={`Delete the organization “${item.name}” with its teams and memberships?`}
                onDelete={() => void remove(item)}
              >
                Delete
              </DeleteButton>
            </td>
          </tr>
        )}
      />
      {opened && orgs !== null && !org && (
        <p className="hint">There is no organization “{opened}” (any more).</p>
      )}
      {org && (
        <OrgDetail key={org.id} client={client} org={org} users={users} onChanged={changed} />
      )}
    </section>
  );
}

/** A new organization; what was typed stays when the server refuses it (a name taken, say). */
function CreateOrg(props: { users: User[]; onCreate: (body: OrgCreate) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [owner, setOwner] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const created = await props.onCreate({
      name: name.trim(),
      display_name: displayName.trim() || null,
      owner: owner || null,
    });
    setBusy(false);
    if (!created) return;
    setName("");
    setDisplayName("");
    setOwner("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-org-title">
      <h2 id="new-org-title">New organization</h2>
      <div className="fields">
        <TextField
          id="new-org-name"
          label="Organization name"
          hint="Lowercase letters, digits, “.”, “_” and “-”"
          required
          autoComplete="off"
          {...NAME_RULE}
          value={name}
          onChange={setName}
        />
        <TextField
          id="new-org-display"
          label="Display name (optional)"
          autoComplete="off"
          value={displayName}
          onChange={setDisplayName}
        />
        <div>
          <label htmlFor="new-org-owner">Owner</label>
          <select
            id="new-org-owner"
            value={owner}
            onChange={(event) => setOwner(event.target.value)}
          >
            <option value="">Me</option>
            <UserOptions users={props.users} />
          </select>
        </div>
      </div>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : "Create organization"}
      </button>
    </form>
  );
}
