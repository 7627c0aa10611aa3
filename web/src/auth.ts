// The API key the user signed in with, kept in this browser's localStorage.
// (Cookies and SSO come later; the key is sent as `Authorization: Bearer <key>`.)
const KEY = "homeport.apiKey";

export function savedKey(): string | null {
  return localStorage.getItem(KEY);
}

export function saveKey(key: string): void {
  localStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  localStorage.removeItem(KEY);
}
