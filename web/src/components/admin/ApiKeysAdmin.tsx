import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ActionFeedback, AdminTable, DeleteButton } from "./AdminTable";
import { TextField } from "./TextField";
import { formatTime } from "./runners/format";
import { useAdminList } from "./useAdminList";
import { UserOptions, useUsers } from "./users";

type Key = components["schemas"]["KeyOut"];
type CreatedKey = components["schemas"]["KeyCreated"];

/** API keys: the signed-in user's, or (admins) another user's; create one (its secret is
 *  shown once), revoke one. */
export function ApiKeysAdmin({ client }: { client: ApiClient }) {
  const users = useUsers(client);
  const [owner, setOwner] = useState("");
  const fetchList = useCallback(() => {
    const query = owner ? { user: owner } : {};
    return call(client.GET("/api/v1/keys", { params: { query } }));
  }, [client, owner]);
  const { data: keys, error, setError, act } = useAdminList(fetchList);
  const [created, setCreated] = useState<CreatedKey | null>(null);

  async function create(name: string, days: number | null, scopes: string[]) {
    const body = { name, expires_in_days: days, scopes, ...(owner ? { user: owner } : {}) };
    await act(async () => setCreated(await call(client.POST("/api/v1/keys", { body }))));
  }

  function revoke(key: Key) {
    const path = { key_id: key.id };
    void act(() => call(client.DELETE("/api/v1/keys/{key_id}", { params: { path } })));
  }

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      {users.length > 0 && (
        <div className="owner-picker">
          <label htmlFor="keys-owner">Keys of</label>
          <select id="keys-owner" value={owner} onChange={(event) => setOwner(event.target.value)}>
            <option value="">Me</option>
            <UserOptions users={users} />
          </select>
        </div>
      )}
      <CreateKey onCreate={create} />
      {created && <NewSecret created={created} onDone={() => setCreated(null)} />}
      <ActionFeedback error={error} onDismiss={() => setError(null)} />
      <AdminTable
        label="API keys"
        loading="keys"
        columns={["Name", "Prefix", "Scopes", "Created", "Expires", "Last used", "Actions"]}
        items={keys}
        empty="No keys yet."
        row={(key) => (
          <tr key={key.id}>
            <th scope="row">{key.name}</th>
            <td>
              <code>{key.prefix}…</code>
            </td>
            <td>{key.scopes.length ? key.scopes.join(", ") : "all"}</td>
            <td>{formatTime(key.created_at)}</td>
            <td>{formatTime(key.expires_at)}</td>
            <td>{formatTime(key.last_used_at)}</td>
            <td className="row-actions">
              {key.revoked_at ? (
                <span>Revoked</span>
              ) : (
                <DeleteButton
                  label={`Revoke ${key.name}`}
                  confirm={`Revoke the key “${key.name}”? Programs using it stop working.`}
                  onDelete={() => revoke(key)}
                >
                  Revoke
                </DeleteButton>
              )}
            </td>
          </tr>
        )}
      />
    </section>
  );
}

function CreateKey(props: {
  onCreate: (name: string, days: number | null, scopes: string[]) => Promise<void>;
}) {
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [scopes, setScopes] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    const parsed = scopes
      .split(/[\s,]+/)
      .map((scope) => scope.trim())
      .filter(Boolean);
    await props.onCreate(name.trim(), days ? Number(days) : null, parsed);
    setName("");
    setDays("");
    setScopes("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-key-title">
      <h2 id="new-key-title">New key</h2>
      <div className="fields">
        <TextField
          id="new-key-name"
          label="Key name"
          required
          autoComplete="off"
          value={name}
          onChange={setName}
        />
        <TextField
          id="new-key-days"
          label="Expires in days (optional)"
          type="number"
          min="1"
          max="3650"
          value={days}
          onChange={setDays}
        />
        <TextField
          id="new-key-scopes"
          label="Scopes (optional, comma-separated)"
          autoComplete="off"
          value={scopes}
          onChange={setScopes}
        />
      </div>
      <button type="submit" disabled={!name.trim()}>
        Create key
      </button>
    </form>
  );
}

function NewSecret({ created, onDone }: { created: CreatedKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);

  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }

  return (
    <div className="secret" role="region" aria-labelledby="secret-title">
      <h2 id="secret-title">Your new key “{created.name}”</h2>
      <p>
        <strong>Copy it now: you won't see it again.</strong> Homeport keeps only a hash of it.
      </p>
      <div className="secret-value">
        <label htmlFor="secret-key" className="visually-hidden">
          New API key
        </label>
        <input
          id="secret-key"
          readOnly
          autoFocus
          value={created.key}
          onFocus={(event) => event.target.select()}
        />
        <button type="button" onClick={() => void copy()}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <span role="status" className="visually-hidden">
        {copied ? "Copied to the clipboard" : ""}
      </span>
      <button type="button" className="quiet" onClick={onDone}>
        I have saved it
      </button>
    </div>
  );
}
