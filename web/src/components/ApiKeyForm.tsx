import { useState, type FormEvent } from "react";
import { saveKey, type Credentials } from "../auth";
import { ApiError, apiClient, call, messageOf, type User } from "../api/client";
import { ErrorMessage } from "./ErrorMessage";

/** Signing in with an API key, kept in this browser's localStorage. */
export function ApiKeyForm({ onSignedIn }: { onSignedIn: (key: Credentials, user: User) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError("Paste an API key first.");
      return;
    }
    setBusy(true);
    setError(null);
    const credentials: Credentials = { kind: "key", key: trimmed };
    try {
      const user = await call(apiClient(credentials).GET("/api/v1/me"));
      saveKey(trimmed);
      onSignedIn(credentials, user);
    } catch (failure) {
      const refused = failure instanceof ApiError && failure.unauthorized;
      setError(refused ? `That API key was not accepted. ${messageOf(failure)}` : messageOf(failure));
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-labelledby="api-key-title" noValidate>
      <h1 id="api-key-title">Sign in with an API key</h1>
      <p className="hint">
        On first start the server writes the admin&apos;s key to <code>admin-api-key</code> in its
        data directory; <code>homeport keys create</code> makes more.
      </p>
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        autoComplete="off"
        spellCheck={false}
        autoFocus
        value={key}
        onChange={(event) => setKey(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "api-key-error" : undefined}
      />
      {error && <ErrorMessage id="api-key-error">{error}</ErrorMessage>}
      <button type="submit" disabled={busy}>
        {busy ? "Checking…" : "Sign in with the key"}
      </button>
    </form>
  );
}
