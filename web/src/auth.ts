// How this browser is signed in: a session cookie (password or SSO sign-in), or an API key
// kept in localStorage and sent as `Authorization: Bearer <key>`.
//
// The session cookie itself is HttpOnly; its companion `homeport_csrf` is readable, and
// unsafe requests repeat it in the `X-CSRF-Token` header.
const KEY = "homeport.apiKey";
const CSRF_COOKIE = "homeport_csrf";

export type Credentials = { kind: "session" } | { kind: "key"; key: string };

export const SESSION: Credentials = { kind: "session" };

/** What this browser signed in with last time, if anything. */
export function savedCredentials(): Credentials | null {
  const key = localStorage.getItem(KEY);
  if (key) return { kind: "key", key };
  return csrfToken() ? SESSION : null;
}

export function csrfToken(): string | null {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("=")) || null;
  }
  return null;
}

export function saveKey(key: string): void {
  localStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  localStorage.removeItem(KEY);
}
