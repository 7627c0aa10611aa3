import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, messageOf, type ApiCallEntry, type ApiClient } from "../../api/client";
import { ActionFeedback, AdminTable } from "./AdminTable";
import { TextField } from "./TextField";
import { formatTime } from "./runners/format";

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
          <TextField
            id="api-calls-app"
            label="App"
            placeholder="all apps"
            autoComplete="off"
            value={draft}
            onChange={setDraft}
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      <ActionFeedback error={error} onDismiss={() => setError(null)} />
      <AdminTable
        label="API calls"
        caption="API calls, newest first"
        loading="the API calls"
        columns={["When", "Call", "Status", "Latency", "App", "User", "Error"]}
        items={calls}
        empty="No API calls match."
        row={(entry) => <ApiCallRow key={entry.id} entry={entry} />}
      />
      {hasMore && (
        <button type="button" className="secondary" onClick={() => void older()}>
          Older calls
        </button>
      )}
    </section>
  );
}

function ApiCallRow({ entry }: { entry: ApiCallEntry }) {
  return (
    <tr>
      <td>{formatTime(entry.at)}</td>
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
  );
}
