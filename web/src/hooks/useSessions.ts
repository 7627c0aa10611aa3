import { useCallback, useEffect, useRef, useState } from "react";
import { call, type ApiClient, type Session } from "../api/client";

const PAGE = 50;
/** How long typing in the search box pauses before the list is searched. */
const SEARCH_DELAY_MS = 250;

/** The user's chat sessions, newest first, with rename and delete; `search` (typed) lists
 *  only those whose title or messages contain it, once typing pauses (`query`). */
export function useSessions(client: ApiClient, report: (error: unknown) => void) {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const latest = useRef(0);

  useEffect(() => {
    const timer = window.setTimeout(() => setQuery(search.trim()), SEARCH_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [search]);

  const reload = useCallback(async () => {
    const ticket = ++latest.current; // an older search answering late is dropped
    try {
      const q = query || undefined;
      const page = await call(client.GET("/api/v1/sessions", { params: { query: { limit: PAGE, q } } }));
      if (ticket !== latest.current) return;
      setSessions(page.data);
      setHasMore(page.has_more);
    } catch (error) {
      report(error);
    }
  }, [client, report, query]);

  useEffect(() => {
    void reload();
  }, [reload]);

  function clearSearch() {
    setSearch("");
    setQuery("");
  }

  async function loadMore() {
    const after = sessions.at(-1)?.id;
    const ticket = latest.current;
    try {
      const page = await call(
        client.GET("/api/v1/sessions", {
          params: { query: { limit: PAGE, after, q: query || undefined } },
        }),
      );
      if (ticket !== latest.current) return; // the search changed meanwhile
      setSessions((shown) => [...shown, ...page.data]);
      setHasMore(page.has_more);
    } catch (error) {
      report(error);
    }
  }

  async function rename(id: string, title: string): Promise<boolean> {
    try {
      const updated = await call(
        client.PATCH("/api/v1/sessions/{session_id}", {
          params: { path: { session_id: id } },
          body: { title },
        }),
      );
      setSessions((shown) => shown.map((s) => (s.id === id ? updated : s)));
      return true;
    } catch (error) {
      report(error);
      return false;
    }
  }

  async function remove(id: string): Promise<boolean> {
    try {
      await call(
        client.DELETE("/api/v1/sessions/{session_id}", { params: { path: { session_id: id } } }),
      );
      setSessions((shown) => shown.filter((s) => s.id !== id));
      return true;
    } catch (error) {
      report(error);
      return false;
    }
  }

  function added(session: Session) {
    setSessions((shown) => [session, ...shown.filter((s) => s.id !== session.id)]);
  }

  function replaced(session: Session) {
    setSessions((shown) => shown.map((s) => (s.id === session.id ? session : s)));
  }

  return {
    sessions,
    hasMore,
    search,
    setSearch,
    query,
    clearSearch,
    reload,
    loadMore,
    rename,
    remove,
    added,
    replaced,
  };
}
