import { useCallback, useState, type FormEvent } from "react";
import { call, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ErrorMessage } from "../ErrorMessage";
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
    if (!window.confirm(`Remove the provider “${name}”? Its models stop being available.`)) return;
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
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      {providers === null ? (
        <p aria-busy="true">Loading providers…</p>
      ) : providers.length === 0 ? (
        <p className="hint">No providers yet.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Providers table">
          <table>
            <caption className="visually-hidden">Providers</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Address</th>
                <th scope="col">Status</th>
                <th scope="col">Models</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {providers.map((provider) => (
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
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Remove ${provider.name}`}
                      onClick={() => remove(provider.name)}
                    >
                      Remove
                    </button>
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
        <div>
          <label htmlFor="provider-name">Provider name</label>
          <input
            id="provider-name"
            required
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
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
        <div>
          <label htmlFor="provider-url">Base URL</label>
          <input
            id="provider-url"
            type="url"
            required
            placeholder="https://api.example.com/v1"
            value={baseUrl}
            onChange={(event) => setBaseUrl(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="provider-key">API key (optional)</label>
          <input
            id="provider-key"
            type="password"
            autoComplete="off"
            value={apiKey}
            onChange={(event) => setApiKey(event.target.value)}
          />
        </div>
        <div>
          <label htmlFor="provider-models">Only these models (optional)</label>
          <input
            id="provider-models"
            autoComplete="off"
            placeholder="all"
            value={models}
            onChange={(event) => setModels(event.target.value)}
          />
        </div>
      </div>
      <button type="submit" disabled={busy || !name.trim() || !baseUrl.trim()}>
        {busy ? "Adding…" : "Add provider"}
      </button>
    </form>
  );
}
