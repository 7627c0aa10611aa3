import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, messageOf } from "../../api/client";

interface Options<T> {
  /** Load again this often while the page is visible. */
  refreshMs?: number;
  /** ... and only while this says so of the data shown (e.g. while something is in progress). */
  refreshWhile?: (data: T | null) => boolean;
  /** Called instead of showing the error when the server answers 401 (signed out). */
  onUnauthorized?: (message: string) => void;
}

/** What a page that lists things and acts on them shares (the admin pages, Knowledge): the
 *  list, loaded once and again after each action (and, with `refreshMs`, every so often while
 *  the page is visible), the last error, and a notice saying what an action did. */
export function useAdminList<T>(fetchList: () => Promise<T>, options: Options<T> = {}) {
  const { refreshMs } = options;
  const [data, setData] = useState<T | null>(null);
  const shownData = useRef<T | null>(null);
  const refreshWhile = useRef(options.refreshWhile);
  const onUnauthorized = useRef(options.onUnauthorized);
  useEffect(() => {
    refreshWhile.current = options.refreshWhile;
    onUnauthorized.current = options.onUnauthorized;
  });
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  // Loads can overlap (a refresh and an action's reload): only a newer answer replaces the list.
  const started = useRef(0);
  const shown = useRef(0);
  const inFlight = useRef(0);

  const fail = useCallback((failure: unknown) => {
    if (failure instanceof ApiError && failure.unauthorized && onUnauthorized.current) {
      onUnauthorized.current(failure.message);
    } else {
      setError(messageOf(failure));
    }
  }, []);

  const load = useCallback(async () => {
    const mine = ++started.current;
    inFlight.current += 1;
    try {
      const fetched = await fetchList();
      if (mine > shown.current) {
        shown.current = mine;
        shownData.current = fetched;
        setData(fetched);
      }
    } catch (failure) {
      fail(failure);
    } finally {
      inFlight.current -= 1;
    }
  }, [fetchList, fail]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = window.setInterval(() => {
      if (document.hidden || inFlight.current > 0) return;
      if (refreshWhile.current && !refreshWhile.current(shownData.current)) return;
      void load();
    }, refreshMs);
    return () => window.clearInterval(timer);
  }, [load, refreshMs]);

  /** Run an action; on success say `done` (if given) and reload. True when it worked. */
  async function act(action: () => Promise<unknown>, done?: string): Promise<boolean> {
    setError(null);
    setNotice(null);
    try {
      await action();
      if (done) setNotice(done);
      await load();
      return true;
    } catch (failure) {
      fail(failure);
      return false;
    }
  }

  return { data, error, setError, notice, setNotice, act, load };
}
