// The UI's URLs: `/` (a new chat; `/?model=<id>` picks its model), `/chat/<session id>`,
// `/knowledge`, `/knowledge/<knowledge base id>`, `/apps`, `/apps/<app name>`,
// `/apps/<app name>/evals/<run id>` (an eval run), `/admin/teams/<org name>` (an organization
// on the admin Teams page) and `/connections` (`?connect=<provider>` pre-fills its form,
// `?connected=<provider>` says it worked). The server answers every non-API path with
// index.html, so these survive a reload.
import { useCallback, useEffect, useState, type MouseEvent } from "react";

/** Fired after `navigate`, so that every `usePath` (the page switcher's too) follows. */
const NAVIGATED = "homeport:navigated";

export function chatPath(sessionId: string | null): string {
  return sessionId ? `/chat/${encodeURIComponent(sessionId)}` : "/";
}

export function sessionIdOf(path: string): string | null {
  const match = /^\/chat\/([^/]+)\/?$/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export function knowledgePath(kbId: string | null): string {
  return kbId ? `/knowledge/${encodeURIComponent(kbId)}` : "/knowledge";
}

export function knowledgeIdOf(path: string): string | null {
  const match = /^\/knowledge\/([^/]+)\/?$/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export function appsPath(name: string | null): string {
  return name ? `/apps/${encodeURIComponent(name)}` : "/apps";
}

export function appNameOf(path: string): string | null {
  const match = /^\/apps\/([^/]+)\/?$/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

export function evalRunPath(app: string, runId: string): string {
  return `${appsPath(app)}/evals/${encodeURIComponent(runId)}`;
}

/** The app and eval run an `/apps/<name>/evals/<run id>` path names. */
export function evalRunOf(path: string): { app: string; runId: string } | null {
  const match = /^\/apps\/([^/]+)\/evals\/([^/]+)\/?$/.exec(path);
  if (!match?.[1] || !match[2]) return null;
  return { app: decodeURIComponent(match[1]), runId: decodeURIComponent(match[2]) };
}

export function teamsPath(org: string | null): string {
  return org ? `/admin/teams/${encodeURIComponent(org)}` : "/admin/teams";
}

/** The organization an `/admin/teams/<org name>` path opens. */
export function orgNameOf(path: string): string | null {
  const match = /^\/admin\/teams\/([^/]+)\/?$/.exec(path);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

/** A new chat with `model` picked (an app's `app/<name>`, say). */
export function newChatPath(model: string): string {
  return `/?model=${encodeURIComponent(model)}`;
}

/** Go to `to` (a path, with a query if need be) without reloading; `state` travels in the
 *  history entry (same-origin only, unlike a query a link elsewhere could set). */
export function navigate(to: string, state: unknown = null): void {
  const here = window.location.pathname + window.location.search;
  if (to !== here) window.history.pushState(state, "", to);
  window.dispatchEvent(new Event(NAVIGATED));
}

/** The current path, and a function that moves to another without reloading. */
export function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const follow = () => setPath(window.location.pathname);
    window.addEventListener("popstate", follow);
    window.addEventListener(NAVIGATED, follow);
    return () => {
      window.removeEventListener("popstate", follow);
      window.removeEventListener(NAVIGATED, follow);
    };
  }, []);
  const go = useCallback((next: string) => navigate(next), []);
  return [path, go];
}

/** A plain click on a link goes through `navigate`; a modified one (new tab, ...) is left to
 *  the browser. */
export function followLink(event: MouseEvent<HTMLAnchorElement>, to: string): void {
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(to);
}

// -- starting a chat from elsewhere (the app store) -------------------------------------------

/** What a new chat was opened with: a model from `/?model=`, and a first message to send
 *  (from the history entry's state, which only this page can set). */
export interface ChatIntent {
  model: string;
  ask: string | null;
}

/** Open a new chat with `model`, sending `ask` as its first message when given. */
export function startChat(model: string, ask?: string): void {
  navigate(newChatPath(model), ask ? { ask } : null);
}

export function chatIntent(): ChatIntent | null {
  if (window.location.pathname !== "/") return null;
  const model = new URLSearchParams(window.location.search).get("model");
  if (!model) return null;
  const state: unknown = window.history.state;
  const ask =
    typeof state === "object" && state !== null && "ask" in state && typeof state.ask === "string"
      ? state.ask
      : null;
  return { model, ask };
}

/** The intent is acted on once: a reload or a return to this entry does not send it again. */
export function forgetChatIntent(): void {
  window.history.replaceState(null, "", window.location.pathname);
}
