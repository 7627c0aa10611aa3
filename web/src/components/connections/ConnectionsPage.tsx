// Connections (/connections): the signed-in user's own accounts at business systems, which
// apps' assistants call APIs with. An OAuth2 connection is made in the browser (the server
// sends it to the provider and back to `/connections?connected=<provider>`); a personal token
// is sent once and never shown again (the server never returns it).
import { useCallback, useMemo, useState, type FormEvent } from "react";
import { apiClient, call, type Connection } from "../../api/client";
import type { Credentials } from "../../auth";
import { ActionFeedback, AdminTable, DeleteButton } from "../admin/AdminTable";
import { TextField } from "../admin/TextField";
import { formatTime } from "../admin/runners/format";
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

/** `?connect=<provider>` (a link from an answer asking to connect) and `?connected=<provider>`
 *  (back from the provider). */
function queryParam(name: string): string {
  return new URLSearchParams(window.location.search).get(name) ?? "";
}

export function ConnectionsPage({ credentials, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const fetchList = useCallback(() => call(client.GET("/api/v1/connections")), [client]);
  const { data, error, setError, notice, act } = useAdminList(fetchList, {
    onUnauthorized,
  });
  const [connected] = useState(() => queryParam("connected"));

  function remove(connection: Connection) {
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
        <ActionFeedback
          error={error}
          notice={notice ?? (connected ? `Connected ${connected}.` : null)}
          onDismiss={() => setError(null)}
        />
        <AdminTable
          label="Connections"
          caption="Your connections"
          loading="your connections"
          columns={["Name", "Kind", "Scopes", "Connected", "Expires", "Actions"]}
          items={data}
          empty="No connections yet."
          row={(connection) => (
            <ConnectionRow key={connection.name} connection={connection} onDelete={remove} />
          )}
        />
        <ConnectForm initial={queryParam("connect")} />
        <TokenForm
          onSave={(name, token) => {
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

function ConnectionRow(props: {
  connection: Connection;
  onDelete: (connection: Connection) => void;
}) {
  const { connection } = props;
  const what = connection.kind === "oauth2" ? "disconnect (and revoke) " : "delete the token ";
  return (
    <tr>
      <th scope="row">{connection.name}</th>
      <td>{connection.kind === "oauth2" ? "OAuth2" : "Personal token"}</td>
      <td>{connection.scopes.length ? connection.scopes.join(" ") : "—"}</td>
      <td>{formatTime(connection.connected_at)}</td>
      <td>{formatTime(connection.expires_at)}</td>
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
        <DeleteButton
          label={`Delete ${connection.name}`}
          confirm={`Really ${what}“${connection.name}”?`}
          onDelete={() => props.onDelete(connection)}
        >
          Delete
        </DeleteButton>
      </td>
    </tr>
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
        <TextField
          id="connect-provider"
          label="Provider name"
          required
          autoComplete="off"
          value={provider}
          onChange={setProvider}
        />
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
        <TextField
          id="token-name"
          label="Connection name"
          required
          autoComplete="off"
          value={name}
          onChange={setName}
        />
        <TextField
          id="token-value"
          label="Token"
          type="password"
          required
          autoComplete="off"
          value={token}
          onChange={setToken}
        />
      </div>
      <button type="submit" disabled={busy || !name.trim() || !token}>
        {busy ? "Saving…" : "Save token"}
      </button>
    </form>
  );
}
