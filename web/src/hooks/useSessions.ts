import { useCallback, useEffect, useState } from "react";
import { call, type ApiClient, type Session } from "../api/client";

const PAGE = 50;

/** The user's chat sessions, newest first, with rename and delete. */
export function useSessions(client: ApiClient, report: (error: unknown) => void) {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [hasMore, setHasMore] = useState(false);

  const reload = useCallback(async () => {
    try {
      const page = await call(client.GET("/api/v1/sessions", { params: { query: { limit: PAGE } } }));
      setSessions(page.data);
      setHasMore(page.has_more);
    } catch (error) {
      report(error);
    }
  }, [client, report]);

  useEffect(() => {
    void reload();
  }, [reload]);

  async function loadMore() {
    const after = sessions.at(-1)?.id;
    try {
      const page = await call(
        client.GET("/api/v1/sessions", { params: { query: { limit: PAGE, after } } }),
      );
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

  return { sessions, hasMore, reload, loadMore, rename, remove, added, replaced };
}
