import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient, type User } from "../../api/client";
import { ActionFeedback, AdminTable } from "./AdminTable";
import { TextField } from "./TextField";
import { useAdminList } from "./useAdminList";
import { UserOptions } from "./users";

/** Users: list, create, disable or enable, reset a password, delete (optionally handing
 *  what they own to someone else). */
export function UsersAdmin({ client }: { client: ApiClient }) {
  const fetchList = useCallback(() => call(client.GET("/api/v1/users")), [client]);
  const { data: users, error, setError, notice, act } = useAdminList(fetchList);

  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <CreateUser
        onCreate={(body) =>
          act(() => call(client.POST("/api/v1/users", { body })), `Created ${body.name}.`)
        }
      />
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      <AdminTable
        label="Users"
        columns={["Name", "Email", "Roles", "Status", "Actions"]}
        items={users}
        empty="No users yet."
        row={(user) => (
          <UserRow
            key={user.id}
            user={user}
            others={users?.filter((other) => other.id !== user.id) ?? []}
            onToggle={() =>
              act(
                () =>
                  call(
                    client.PATCH("/api/v1/users/{user}", {
                      params: { path: { user: user.id } },
                      body: { disabled: !user.disabled },
                    }),
                  ),
                `${user.name} is ${user.disabled ? "enabled" : "disabled"}.`,
              )
            }
            onReset={(password) =>
              act(
                () =>
                  call(
                    client.POST("/api/v1/users/{user}/password", {
                      params: { path: { user: user.id } },
                      body: { new_password: password },
                    }),
                  ),
                `The password of ${user.name} is reset.`,
              )
            }
            onDelete={(transferTo) =>
              act(
                () =>
                  call(
                    client.DELETE("/api/v1/users/{user}", {
                      params: {
                        path: { user: user.id },
                        query: transferTo ? { transfer_to: transferTo } : {},
                      },
                    }),
                  ),
                `Deleted ${user.name}.`,
              )
            }
          />
        )}
      />
    </section>
  );
}

interface NewUser {
  name: string;
  email: string | null;
  password: string | null;
  roles: ("admin" | "user")[];
}

function CreateUser({ onCreate }: { onCreate: (body: NewUser) => Promise<unknown> }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    await onCreate({
      name: name.trim(),
      email: email.trim() || null,
      password: password || null,
      roles: admin ? ["admin"] : ["user"],
    });
    setBusy(false);
    setName("");
    setEmail("");
    setPassword("");
    setAdmin(false);
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-user-title">
      <h2 id="new-user-title">New user</h2>
      <div className="fields">
        <TextField
          id="new-user-name"
          label="Name"
          required
          autoComplete="off"
          value={name}
          onChange={setName}
        />
        <TextField
          id="new-user-email"
          label="Email (optional)"
          type="email"
          autoComplete="off"
          value={email}
          onChange={setEmail}
        />
        <TextField
          id="new-user-password"
          label="Password (optional)"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
        />
        <div className="check">
          <input
            id="new-user-admin"
            type="checkbox"
            checked={admin}
            onChange={(event) => setAdmin(event.target.checked)}
          />
          <label htmlFor="new-user-admin">Admin</label>
        </div>
      </div>
      <button type="submit" disabled={busy || !name.trim()}>
        Create user
      </button>
    </form>
  );
}

type Mode = "idle" | "reset" | "delete";

function UserRow(props: {
  user: User;
  others: User[];
  onToggle: () => Promise<unknown>;
  onReset: (password: string) => Promise<unknown>;
  onDelete: (transferTo: string | null) => Promise<unknown>;
}) {
  const { user } = props;
  const [mode, setMode] = useState<Mode>("idle");
  const [password, setPassword] = useState("");
  const [transferTo, setTransferTo] = useState("");
  const label = user.display_name || user.name;

  async function reset(event: FormEvent) {
    event.preventDefault();
    if (!password) return;
    await props.onReset(password);
    setPassword("");
    setMode("idle");
  }

  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{user.email ?? "—"}</td>
      <td>{user.roles.join(", ")}</td>
      <td>{user.disabled ? "Disabled" : "Active"}</td>
      <td className="row-actions">
        {mode === "idle" && (
          <>
            <button
              type="button"
              className="secondary"
              onClick={() => void props.onToggle()}
              aria-label={`${user.disabled ? "Enable" : "Disable"} ${label}`}
            >
              {user.disabled ? "Enable" : "Disable"}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => setMode("reset")}
              aria-label={`Reset password of ${label}`}
            >
              Reset password
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => setMode("delete")}
              aria-label={`Delete ${label}`}
            >
              Delete
            </button>
          </>
        )}
        {mode === "reset" && (
          <form onSubmit={reset} className="inline-form">
            <label htmlFor={`reset-${user.id}`}>New password for {label}</label>
            <input
              id={`reset-${user.id}`}
              type="password"
              autoComplete="new-password"
              autoFocus
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            <button type="submit" disabled={!password}>
              Set password
            </button>
            <button type="button" className="quiet" onClick={() => setMode("idle")}>
              Cancel
            </button>
          </form>
        )}
        {mode === "delete" && (
          <div className="inline-form" role="group" aria-label={`Delete ${label}`}>
            <label htmlFor={`transfer-${user.id}`}>Hand over what {label} owns to</label>
            <select
              id={`transfer-${user.id}`}
              value={transferTo}
              onChange={(event) => setTransferTo(event.target.value)}
            >
              <option value="">Nobody (delete it too)</option>
              <UserOptions users={props.others} />
            </select>
            <button type="button" className="danger" onClick={() => void props.onDelete(transferTo || null)}>
              Delete {label}
            </button>
            <button type="button" className="quiet" autoFocus onClick={() => setMode("idle")}>
              Cancel
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}
