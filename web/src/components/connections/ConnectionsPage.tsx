// Connections (/connections): the signed-in user's own accounts at business systems, which
// apps' assistants call APIs with. An OAuth2 connection is made in the browser (the server
// sends it to the provider and back to `/connections?connected=<provider>`); a personal token
// is sent once and never shown again (the server never returns it).
import { useCallback, useMemo, useState, type FormEvent } from "react";
import { apiClient, call, type Connection } from "../../api/client";
import type { Credentials } from "../../auth";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";

interface Props {
  credentials: Credentials;
  onUnauthorized: (message: string) => void;
}

/** Where the browser goes to connect to the OAuth2 provider `provider` (back here after). */
export function connectUrl(provider: string): string {
  const redirect = encodeURIComponent("/connections");
  return `/api/v1/connections/${encodeURIComponent(provider)}/connect?redirect=${redirect}`;
}

function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}

/** `?connect=<provider>` (a link from an answer asking to connect) and `?connected=<provider>`
 *  (back from the provider). */
function queryParam(name: string): string {
  return new URLSearchParams(window.location.search).get(name) ?? "";
}

export function ConnectionsPage({ credentials, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const fetchList = useCallback(() => call(client.GET("/api/v1/connections")), [client]);
  const { data, error, setError, notice, setNotice, act } = useAdminList(fetchList, {
    onUnauthorized,
  });
  const [connected] = useState(() => queryParam("connected"));

  function remove(connection: Connection) {
    const what = connection.kind === "oauth2" ? "disconnect (and revoke) " : "delete the token ";
    if (!window.confirm(`Really ${what}“${connection.name}”?`)) return;
    const path = { name: connection.name };
    void act(
      () => call(client.DELETE("/api/v1/connections/{name}", { params: { path } })),
      `Deleted ${connection.name}.`,
    );
  }

  return (
    <main className="admin-main connections-main">
      <section aria-labelledby="connections-title">
        <h1 id="connections-title">Connections</h1>
        <p className="hint">
          Your own accounts at business systems. Apps whose assistants call an API with your
          account use these; tokens are never shown again once saved.
        </p>
        {connected && !notice && (
          <p role="status" className="notice">
            Connected {connected}.
          </p>
        )}
        {notice && (
          <p role="status" className="notice">
            {notice}
          </p>
        )}
        {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
        {data === null ? (
          <p aria-busy="true">Loading your connections…</p>
        ) : data.length === 0 ? (
          <p className="hint">No connections yet.</p>
        ) : (
          <ConnectionsTable connections={data} onDelete={remove} />
        )}
        <ConnectForm initial={queryParam("connect")} />
        <TokenForm
          onSave={(name, token) => {
            setNotice(null);
            const path = { name };
            return act(
              () =>
                call(client.PUT("/api/v1/connections/{name}", { params: { path }, body: { token } })),
              `Saved the token for ${name}.`,
            );
          }}
        />
      </section>
    </main>
  );
}

function ConnectionsTable(props: {
  connections: Connection[];
  onDelete: (connection: Connection) => void;
}) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Connections table">
      <table>
        <caption className="visually-hidden">Your connections</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">Scopes</th>
            <th scope="col">Connected</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.connections.map((connection) => (
            <tr key={connection.name}>
              <th scope="row">{connection.name}</th>
              <td>{connection.kind === "oauth2" ? "OAuth2" : "Personal token"}</td>
              <td>{connection.scopes.length ? connection.scopes.join(" ") : "—"}</td>
              <td>{when(connection.connected_at)}</td>
              <td>{when(connection.expires_at)}</td>
              <td className="row-actions">
                {connection.kind === "oauth2" && (
                  <a
                    className="button secondary"
                    href={connectUrl(connection.name)}
                    aria-label={`Reconnect ${connection.name}`}
                  >
                    Reconnect
                  </a>
                )}
                <button
                  type="button"
                  className="danger"
                  aria-label={`Delete ${connection.name}`}
                  onClick={() => props.onDelete(connection)}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Connect to an OAuth2 provider by name: the browser leaves for the provider. */
function ConnectForm({ initial }: { initial: string }) {
  const [provider, setProvider] = useState(initial);

  function submit(event: FormEvent) {
    event.preventDefault();
    const name = provider.trim();
    if (name) window.location.assign(connectUrl(name));
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="connect-title">
      <h2 id="connect-title">Connect an account</h2>
      <p className="hint">
        Signs you in at the provider an admin set up (an app's answer names it), then brings you
        back here.
      </p>
      <div className="fields">
        <div>
          <label htmlFor="connect-provider">Provider name</label>
          <input
            id="connect-provider"
            required
            autoComplete="off"
            value={provider}
            onChange={(event) => setProvider(event.target.value)}
          />
        </div>
      </div>
      <button type="submit" disabled={!provider.trim()}>
        Connect
      </button>
    </form>
  );
}

/** A personal token under a name: sent once, then the field is cleared. */
function TokenForm({ onSave }: { onSave: (name: string, token: string) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim() || !token) return;
    setBusy(true);
    const saved = await onSave(name.trim(), token);
    setBusy(false);
    setToken(""); // never kept on the page, saved or not
    if (saved) setName("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="token-title">
      <h2 id="token-title">Save a personal token</h2>
      <p className="hint">Replaces any token already saved under that name.</p>
      <div className="fields">
        <div>
          <label htmlFor="token-name">Connection name</label>
          <input
            id="token-name"
            required
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="token-value">Token</label>
          <input
            id="token-value"
            type="password"
            required
            autoComplete="off"
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </div>
      </div>
      <button type="submit" disabled={busy || !name.trim() || !token}>
        {busy ? "Saving…" : "Save token"}
      </button>
    </form>
  );
}
