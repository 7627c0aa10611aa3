import { useState, type FormEvent } from "react";
import { SESSION } from "../auth";
import { ApiError, apiClient, call, messageOf, type User } from "../api/client";
import { ErrorMessage } from "./ErrorMessage";

/** Name (or email) and password; the server answers with the session cookies. */
export function PasswordForm({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim() || !password) {
      setError("Enter your name and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), password };
      const signedIn = await call(apiClient(SESSION).POST("/api/v1/auth/login", { body }));
      onSignedIn(signedIn.user);
    } catch (failure) {
      const throttled = failure instanceof ApiError && failure.status === 429;
      setError(throttled ? messageOf(failure) : `Not signed in. ${messageOf(failure)}`);
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-labelledby="sign-in-title" noValidate>
      <h1 id="sign-in-title">Sign in</h1>
      <label htmlFor="sign-in-name">Name or email</label>
      <input
        id="sign-in-name"
        autoComplete="username"
        spellCheck={false}
        autoFocus
        value={name}
        onChange={(event) => setName(event.target.value)}
      />
      <label htmlFor="sign-in-password">Password</label>
      <input
        id="sign-in-password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(event) => setPassword(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "sign-in-error" : undefined}
      />
      {error && <ErrorMessage id="sign-in-error">{error}</ErrorMessage>}
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
