import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, messageOf, type ApiCallEntry, type ApiClient } from "../../api/client";
import { ErrorMessage } from "../ErrorMessage";

const PAGE = 50;

/** The calls apps' assistants made to APIs, newest first, filtered by app; "Older" pages on
 *  (bodies and credentials are never logged, so none are shown). */
export function ApiCallsLog({ client }: { client: ApiClient }) {
  const [draft, setDraft] = useState("");
  const [app, setApp] = useState("");
  const [calls, setCalls] = useState<ApiCallEntry[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const fetchPage = useCallback(
    async (before: string | null) => {
      const query = { limit: PAGE, app: app || undefined, before: before ?? undefined };
      const page = await call(client.GET("/api/v1/api-calls", { params: { query } }));
      // The route lists free-form objects: each is an ApiCallRecord's to_dict().
      return { data: page.data as unknown as ApiCallEntry[], hasMore: page.has_more };
    },
    [client, app],
  );

  useEffect(() => {
    let current = true;
    setCalls(null);
    fetchPage(null)
      .then((page) => {
        if (!current) return;
        setCalls(page.data);
        setHasMore(page.hasMore);
      })
      .catch((failure: unknown) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [fetchPage]);

  async function older() {
    const last = calls?.at(-1);
    if (!last) return;
    try {
      const page = await fetchPage(last.at);
      setCalls((shown) => [...(shown ?? []), ...page.data]);
      setHasMore(page.hasMore);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  function apply(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setApp(draft.trim());
  }

  return (
    <section aria-labelledby="api-calls-title">
      <h1 id="api-calls-title">API calls</h1>
      <form className="admin-form filters" onSubmit={apply} role="search" aria-label="Filter the API calls">
        <div className="fields">
          <div>
            <label htmlFor="api-calls-app">App</label>
            <input
              id="api-calls-app"
              placeholder="all apps"
              autoComplete="off"
              value={draft}
              onChange={(event) => setDraft(event.target.value)}
            />
          </div>
        </div>
        <button type="submit">Filter</button>
      </form>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {calls === null ? (
        <p aria-busy="true">Loading the API calls…</p>
      ) : calls.length === 0 ? (
        <p className="hint">No API calls match.</p>
      ) : (
        <ApiCallsTable calls={calls} />
      )}
      {hasMore && (
        <button type="button" className="secondary" onClick={() => void older()}>
          Older calls
        </button>
      )}
    </section>
  );
}

function ApiCallsTable({ calls }: { calls: ApiCallEntry[] }) {
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="API calls table">
      <table>
        <caption className="visually-hidden">API calls, newest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Call</th>
            <th scope="col">Status</th>
            <th scope="col">Latency</th>
            <th scope="col">App</th>
            <th scope="col">User</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {calls.map((entry) => (
            <tr key={entry.id}>
              <td>{new Date(entry.at).toLocaleString()}</td>
              <th scope="row">
                <code>
                  {entry.method} {entry.api}.{entry.operation}
                </code>
              </th>
              <td>{entry.status ?? "—"}</td>
              <td>{entry.latency_ms === null ? "—" : `${Math.round(entry.latency_ms)} ms`}</td>
              <td>
                {entry.app ?? "—"}
                {entry.app_version !== null && <span className="hint"> v{entry.app_version}</span>}
              </td>
              <td>
                <code>{entry.user_id ?? "—"}</code>
              </td>
              <td className="details">{entry.error ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
