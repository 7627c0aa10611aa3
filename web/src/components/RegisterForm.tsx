import { useState, type FormEvent } from "react";
import { SESSION } from "../auth";
import { apiClient, call, messageOf, type User } from "../api/client";
import { ErrorMessage } from "./ErrorMessage";

const MIN_PASSWORD = 10;

/** A new account; the server signs this browser in at once. */
export function RegisterForm({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) {
      setError("Choose a name.");
      return;
    }
    if (password.length < MIN_PASSWORD) {
      setError(`A password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), password, email: email.trim() || null };
      const signedIn = await call(apiClient(SESSION).POST("/api/v1/auth/register", { body }));
      onSignedIn(signedIn.user);
    } catch (failure) {
      setError(`Could not create the account. ${messageOf(failure)}`);
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-labelledby="register-title" noValidate>
      <h1 id="register-title">Create an account</h1>
      <label htmlFor="register-name">Name</label>
      <input
        id="register-name"
        autoComplete="username"
        spellCheck={false}
        autoFocus
        value={name}
        onChange={(event) => setName(event.target.value)}
      />
      <p className="hint">Letters, digits and . _ - @, starting with a letter or digit.</p>
      <label htmlFor="register-email">Email (optional)</label>
      <input
        id="register-email"
        type="email"
        autoComplete="email"
        value={email}
        onChange={(event) => setEmail(event.target.value)}
      />
      <label htmlFor="register-password">Password</label>
      <input
        id="register-password"
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={(event) => setPassword(event.target.value)}
        aria-describedby="register-password-hint"
      />
      <p className="hint" id="register-password-hint">
        At least {MIN_PASSWORD} characters.
      </p>
      {error && <ErrorMessage id="register-error">{error}</ErrorMessage>}
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create account"}
      </button>
    </form>
  );
}
