import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf } from "../../api/client";

/** What an admin page that lists things and acts on them shares: the list, loaded once and
 *  again after each action (and, with `refreshMs`, every so often while the page is visible),
 *  the last error, and a notice saying what an action did. */
export function useAdminList<T>(fetchList: () => Promise<T>, options: { refreshMs?: number } = {}) {
  const { refreshMs } = options;
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Loads can overlap (a refresh and an action's reload): only a newer answer replaces the list.
  const started = useRef(0);
  const shown = useRef(0);
  const inFlight = useRef(0);

  const load = useCallback(async () => {
    const mine = ++started.current;
    inFlight.current += 1;
    try {
      const fetched = await fetchList();
      if (mine > shown.current) {
        shown.current = mine;
        setData(fetched);
      }
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      inFlight.current -= 1;
    }
  }, [fetchList]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = window.setInterval(() => {
      if (!document.hidden && inFlight.current === 0) void load();
    }, refreshMs);
    return () => window.clearInterval(timer);
  }, [load, refreshMs]);

  /** Run an action; on success say `done` and reload. True when it worked. */
  async function act(action: () => Promise<unknown>, done: string): Promise<boolean> {
    setError(null);
    setNotice(null);
    try {
      await action();
      setNotice(done);
      await load();
      return true;
    } catch (failure) {
      setError(messageOf(failure));
      return false;
    }
  }

  return { data, error, setError, notice, act };
}
