// The UI's URLs: `/` (a new chat), `/chat/<session id>`, `/knowledge` and
// `/knowledge/<knowledge base id>`. The server answers every non-API path with index.html, so
// these survive a reload.
import { useCallback, useEffect, useState } from "react";

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

/** The current path, and a function that moves to another without reloading. */
export function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((next: string) => {
    if (next !== window.location.pathname) window.history.pushState(null, "", next);
    setPath(next);
  }, []);
  return [path, navigate];
}
