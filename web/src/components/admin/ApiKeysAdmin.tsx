import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, messageOf, type ApiClient, type User } from "../../api/client";
import type { components } from "../../api/schema";
import { ErrorMessage } from "../ErrorMessage";

type Key = components["schemas"]["KeyOut"];
type CreatedKey = components["schemas"]["KeyCreated"];

function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}

/** API keys: the signed-in user's, or (admins) another user's; create one (its secret is
 *  shown once), revoke one. */
export function ApiKeysAdmin({ client }: { client: ApiClient }) {
  const [users, setUsers] = useState<User[]>([]);
  const [owner, setOwner] = useState("");
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call(client.GET("/api/v1/users"))
      .then(setUsers)
      .catch(() => setUsers([]));
  }, [client]);

  const load = useCallback(async () => {
    try {
      const query = owner ? { user: owner } : {};
      setKeys(await call(client.GET("/api/v1/keys", { params: { query } })));
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [client, owner]);

  useEffect(() => {
    void load();
  }, [load]);

  async function create(name: string, days: number | null, scopes: string[]) {
    setError(null);
    try {
      const body = {
        name,
        expires_in_days: days,
        scopes,
        ...(owner ? { user: owner } : {}),
      };
      setCreated(await call(client.POST("/api/v1/keys", { body })));
      await load();
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  async function revoke(key: Key) {
    if (!window.confirm(`Revoke the key “${key.name}”? Programs using it stop working.`)) return;
    setError(null);
    try {
      await call(client.DELETE("/api/v1/keys/{key_id}", { params: { path: { key_id: key.id } } }));
      await load();
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      {users.length > 0 && (
        <div className="owner-picker">
          <label htmlFor="keys-owner">Keys of</label>
          <select id="keys-owner" value={owner} onChange={(event) => setOwner(event.target.value)}>
            <option value="">Me</option>
            {users.map((user) => (
              <option key={user.id} value={user.id}>
                {user.display_name || user.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <CreateKey onCreate={create} />
      {created && <NewSecret created={created} onDone={() => setCreated(null)} />}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {keys === null ? (
        <p aria-busy="true">Loading keys…</p>
      ) : keys.length === 0 ? (
        <p className="hint">No keys yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="API keys table">
          <table>
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => (
                <tr key={key.id}>
                  <th scope="row">{key.name}</th>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{key.scopes.length ? key.scopes.join(", ") : "all"}</td>
                  <td>{when(key.created_at)}</td>
                  <td>{when(key.expires_at)}</td>
                  <td>{when(key.last_used_at)}</td>
                  <td className="row-actions">
                    {key.revoked_at ? (
                      <span>Revoked</span>
                    ) : (
                      <button
                        type="button"
                        className="danger"
                        aria-label={`Revoke ${key.name}`}
                        onClick={() => void revoke(key)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
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
        <div>
          <label htmlFor="new-key-name">Key name</label>
          <input
            id="new-key-name"
            required
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="new-key-days">Expires in days (optional)</label>
          <input
            id="new-key-days"
            type="number"
            min="1"
            max="3650"
            value={days}
            onChange={(event) => setDays(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="new-key-scopes">Scopes (optional, comma-separated)</label>
          <input
            id="new-key-scopes"
            autoComplete="off"
            value={scopes}
            onChange={(event) => setScopes(event.target.value)}
          />
        </div>
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
