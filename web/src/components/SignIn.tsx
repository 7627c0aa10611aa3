import { useState, type FormEvent } from "react";
import { ApiError, apiClient, call, messageOf, type User } from "../api/client";
import { saveKey } from "../auth";
import { ErrorMessage } from "./ErrorMessage";

interface Props {
  notice?: string;
  onSignedIn: (key: string, user: User) => void;
}

export function SignIn({ notice, onSignedIn }: Props) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(notice ?? null);
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
    try {
      const user = await call(apiClient(trimmed).GET("/api/v1/me"));
      saveKey(trimmed);
      onSignedIn(trimmed, user);
    } catch (failure) {
      const refused = failure instanceof ApiError && failure.unauthorized;
      setError(refused ? `That API key was not accepted. ${messageOf(failure)}` : messageOf(failure));
      setBusy(false);
    }
  }

  return (
    <main className="centered">
      <form className="card sign-in" onSubmit={submit} aria-labelledby="sign-in-title" noValidate>
        <h1 id="sign-in-title">Sign in</h1>
        <p className="hint">
          Paste a Homeport API key. On first start the server writes the admin&apos;s key to{" "}
          <code>admin-api-key</code> in its data directory; <code>homeport keys create</code> makes
          more.
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
          aria-describedby={error ? "sign-in-error" : undefined}
        />
        {error && <ErrorMessage id="sign-in-error">{error}</ErrorMessage>}
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
