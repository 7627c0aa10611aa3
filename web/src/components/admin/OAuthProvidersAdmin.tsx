import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient, type OAuthProviderIn } from "../../api/client";
import { ActionFeedback, AdminTable, DeleteButton } from "./AdminTable";
import { TextField } from "./TextField";
import { useAdminList } from "./useAdminList";

/** OAuth2 providers users connect their accounts through: list them, create or replace one
 *  (its client secret is write-only), delete one (and every user's connection to it). */
export function OAuthProvidersAdmin({ client }: { client: ApiClient }) {
  const fetchList = useCallback(() => call(client.GET("/api/v1/oauth/providers")), [client]);
  const { data: providers, error, setError, notice, act } = useAdminList(fetchList);

  function remove(name: string) {
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
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      <AdminTable
        label="OAuth providers"
        loading="OAuth providers"
        columns={["Name", "Authorize URL", "Client id", "Client", "Scopes", "Actions"]}
        items={providers}
        empty="No OAuth providers yet."
        row={(provider) => (
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
              <DeleteButton
                label={`Delete ${provider.name}`}
                confirm={`Delete the OAuth provider “${provider.name}”? Every user's connection to it goes too.`}
                onDelete={() => remove(provider.name)}
              >
                Delete
              </DeleteButton>
            </td>
          </tr>
        )}
      />
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
          <TextField
            key={field.key}
            id={`oauth-${field.key}`}
            label={field.label}
            type={field.type ?? "text"}
            required={field.required}
            autoComplete="off"
            value={draft[field.key]}
            onChange={(value) => setDraft({ ...draft, [field.key]: value })}
          />
        ))}
      </div>
      <button type="submit" disabled={busy || !ready}>
        {busy ? "Saving…" : "Save provider"}
      </button>
    </form>
  );
}
