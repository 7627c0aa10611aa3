import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient, type OAuthProviderIn } from "../../api/client";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "./useAdminList";

/** OAuth2 providers users connect their accounts through: list them, create or replace one
 *  (its client secret is write-only), delete one (and every user's connection to it). */
export function OAuthProvidersAdmin({ client }: { client: ApiClient }) {
  const fetchList = useCallback(() => call(client.GET("/api/v1/oauth/providers")), [client]);
  const { data: providers, error, setError, notice, act } = useAdminList(fetchList);

  function remove(name: string) {
    const question = `Delete the OAuth provider “${name}”? Every user's connection to it goes too.`;
    if (!window.confirm(question)) return;
    const path = { name };
    void act(
      () => call(client.DELETE("/api/v1/oauth/providers/{name}", { params: { path } })),
      `Deleted ${name}.`,
    );
  }

  return (
    <section aria-labelledby="oauth-title">
      <h1 id="oauth-title">OAuth providers</h1>
      <p className="hint">
        Users connect their own accounts through these (Connections page); apps' APIs name them.
      </p>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {providers === null ? (
        <p aria-busy="true">Loading OAuth providers…</p>
      ) : providers.length === 0 ? (
        <p className="hint">No OAuth providers yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="OAuth providers table">
          <table>
            <caption className="visually-hidden">OAuth providers</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Authorize URL</th>
                <th scope="col">Client id</th>
                <th scope="col">Client</th>
                <th scope="col">Scopes</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {providers.map((provider) => (
                <tr key={provider.name}>
                  <th scope="row">{provider.name}</th>
                  <td>
                    <code>{provider.authorize_url}</code>
                  </td>
                  <td>
                    <code>{provider.client_id}</code>
                  </td>
                  <td>{provider.confidential ? "Confidential (secret set)" : "Public (PKCE)"}</td>
                  <td>{provider.scopes.length ? provider.scopes.join(" ") : "—"}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete ${provider.name}`}
                      onClick={() => remove(provider.name)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ProviderForm
        onSave={(name, body) =>
          act(
            () =>
              call(client.PUT("/api/v1/oauth/providers/{name}", { params: { path: { name } }, body })),
            `Saved ${name}.`,
          )
        }
      />
    </section>
  );
}

const EMPTY = {
  name: "",
  authorizeUrl: "",
  tokenUrl: "",
  revokeUrl: "",
  clientId: "",
  clientSecret: "",
  scopes: "",
};

type Draft = typeof EMPTY;

const FIELDS: { key: keyof Draft; label: string; type?: string; required?: boolean }[] = [
  { key: "name", label: "Provider name", required: true },
  { key: "authorizeUrl", label: "Authorize URL", type: "url", required: true },
  { key: "tokenUrl", label: "Token URL", type: "url", required: true },
  { key: "revokeUrl", label: "Revoke URL (optional)", type: "url" },
  { key: "clientId", label: "Client id", required: true },
  { key: "clientSecret", label: "Client secret (optional, write-only)", type: "password" },
  { key: "scopes", label: "Scopes (space-separated)" },
];

function body(draft: Draft): OAuthProviderIn {
  return {
    authorize_url: draft.authorizeUrl.trim(),
    token_url: draft.tokenUrl.trim(),
    revoke_url: draft.revokeUrl.trim() || null,
    client_id: draft.clientId.trim(),
    client_secret: draft.clientSecret || null,
    scopes: draft.scopes.split(/[\s,]+/).filter(Boolean),
  };
}

/** Create a provider, or replace one of the same name (every field: a secret left out makes
 *  it a public client). */
function ProviderForm(props: { onSave: (name: string, body: OAuthProviderIn) => Promise<boolean> }) {
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [busy, setBusy] = useState(false);
  const ready = Boolean(
    draft.name.trim() && draft.authorizeUrl.trim() && draft.tokenUrl.trim() && draft.clientId.trim(),
  );

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!ready) return;
    setBusy(true);
    const saved = await props.onSave(draft.name.trim(), body(draft));
    setBusy(false);
    setDraft(saved ? EMPTY : { ...draft, clientSecret: "" });
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="oauth-form-title">
      <h2 id="oauth-form-title">Add or replace a provider</h2>
      <p className="hint">Saving under an existing name replaces that provider, secret included.</p>
      <div className="fields">
        {FIELDS.map((field) => (
          <div key={field.key}>
            <label htmlFor={`oauth-${field.key}`}>{field.label}</label>
            <input
              id={`oauth-${field.key}`}
              type={field.type ?? "text"}
              required={field.required}
              autoComplete="off"
              value={draft[field.key]}
              onChange={(event) => setDraft({ ...draft, [field.key]: event.target.value })}
            />
          </div>
        ))}
      </div>
      <button type="submit" disabled={busy || !ready}>
        {busy ? "Saving…" : "Save provider"}
      </button>
    </form>
  );
}
