import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ActionFeedback, AdminTable, DeleteButton } from "./AdminTable";
import { TextField } from "./TextField";
import { useAdminList } from "./useAdminList";

type ProviderIn = components["schemas"]["ProviderIn"];

/** Model providers: their status and models; add one, refresh its model list, remove it. */
export function ProvidersAdmin({ client }: { client: ApiClient }) {
  const fetchList = useCallback(() => call(client.GET("/api/v1/providers")), [client]);
  const { data: providers, error, setError, notice, act } = useAdminList(fetchList);

  function refresh(name: string) {
    const path = { name };
    void act(
      () => call(client.POST("/api/v1/providers/{name}/refresh", { params: { path } })),
      `Refreshed ${name}.`,
    );
  }

  function remove(name: string) {
    const path = { name };
    void act(
      () => call(client.DELETE("/api/v1/providers/{name}", { params: { path } })),
      `Removed ${name}.`,
    );
  }

  return (
    <section aria-labelledby="providers-title">
      <h1 id="providers-title">Providers</h1>
      <AddProvider
        onAdd={(body) =>
          act(() => call(client.POST("/api/v1/providers", { body })), `Added ${body.name}.`)
        }
      />
      <ActionFeedback error={error} notice={notice} onDismiss={() => setError(null)} />
      <AdminTable
        label="Providers"
        columns={["Name", "Kind", "Address", "Status", "Models", "Actions"]}
        items={providers}
        empty="No providers yet."
        row={(provider) => (
          <tr key={provider.name}>
            <th scope="row">{provider.name}</th>
            <td>{provider.kind}</td>
            <td>
              <code>{provider.base_url}</code>
            </td>
            <td>
              <span className={`badge ${provider.status}`}>
                {provider.status === "ok" ? "OK" : "Error"}
              </span>
              {provider.error && <div className="hint">{provider.error}</div>}
            </td>
            <td title={provider.models.join("\n")}>{provider.models.length}</td>
            <td className="row-actions">
              <button
                type="button"
                className="secondary"
                aria-label={`Refresh ${provider.name}`}
                onClick={() => refresh(provider.name)}
              >
                Refresh
              </button>
              <DeleteButton
                label={`Remove ${provider.name}`}
                confirm={`Remove the provider “${provider.name}”? Its models stop being available.`}
                onDelete={() => remove(provider.name)}
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

function AddProvider({ onAdd }: { onAdd: (body: ProviderIn) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"openai" | "ollama">("openai");
  const [baseUrl, setBaseUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [models, setModels] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim() || !baseUrl.trim()) return;
    setBusy(true);
    const allowed = models
      .split(/[\s,]+/)
      .map((model) => model.trim())
      .filter(Boolean);
    const added = await onAdd({
      name: name.trim(),
      kind,
      base_url: baseUrl.trim(),
      api_key: apiKey || null,
      models: allowed.length ? allowed : null,
    });
    setBusy(false);
    if (!added) return;
    setName("");
    setBaseUrl("");
    setApiKey("");
    setModels("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-provider-title">
      <h2 id="new-provider-title">Add a provider</h2>
      <div className="fields">
        <TextField
          id="provider-name"
          label="Provider name"
          required
          autoComplete="off"
          value={name}
          onChange={setName}
        />
        <div>
          <label htmlFor="provider-kind">Kind</label>
          <select
            id="provider-kind"
            value={kind}
            onChange={(event) => setKind(event.target.value as "openai" | "ollama")}
          >
            <option value="openai">OpenAI-compatible</option>
            <option value="ollama">Ollama</option>
          </select>
        </div>
        <TextField
          id="provider-url"
          label="Base URL"
          type="url"
          required
          placeholder="https://api.example.com/v1"
          value={baseUrl}
          onChange={setBaseUrl}
        />
        <TextField
          id="provider-key"
          label="API key (optional)"
          type="password"
          autoComplete="off"
          value={apiKey}
          onChange={setApiKey}
        />
        <TextField
          id="provider-models"
          label="Only these models (optional)"
          autoComplete="off"
          placeholder="all"
          value={models}
          onChange={setModels}
        />
      </div>
      <button type="submit" disabled={busy || !name.trim() || !baseUrl.trim()}>
        {busy ? "Adding…" : "Add provider"}
      </button>
    </form>
  );
}
