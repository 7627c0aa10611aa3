import { useCallback, useEffect, useState } from "react";
import { messageOf } from "../../api/client";

/** What an admin page that lists things and acts on them shares: the list, loaded once and
 *  again after each action, the last error, and a notice saying what an action did. */
export function useAdminList<T>(fetchList: () => Promise<T>) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setData(await fetchList());
    } catch (failure) {
      setError(messageOf(failure));
    }
  }, [fetchList]);

  useEffect(() => {
    void load();
  }, [load]);

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
