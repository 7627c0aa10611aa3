import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, messageOf, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ErrorMessage } from "../ErrorMessage";

type Event = components["schemas"]["AuditEventOut"];

interface Filters {
  action: string;
  actor: string;
}

function actionQuery(action: string): string | undefined {
  const trimmed = action.trim();
  if (!trimmed) return undefined;
  return trimmed.endsWith("*") ? trimmed : `${trimmed}*`;
}

/** The audit log, newest first: filter by action prefix and actor, page with "Older". */
export function AuditLog({ client }: { client: ApiClient }) {
  const [draft, setDraft] = useState<Filters>({ action: "", actor: "" });
  const [filters, setFilters] = useState<Filters>({ action: "", actor: "" });
  const [events, setEvents] = useState<Event[] | null>(null);
  const [lastId, setLastId] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const fetchPage = useCallback(
    async (before: string | null) => {
      const query = {
        limit: 50,
        action: actionQuery(filters.action),
        actor: filters.actor.trim() || undefined,
        before: before ?? undefined,
      };
      return call(client.GET("/api/v1/audit", { params: { query } }));
    },
    [client, filters],
  );

  useEffect(() => {
    let current = true;
    setEvents(null);
    fetchPage(null)
      .then((page) => {
        if (!current) return;
        setEvents(page.data);
        setLastId(page.last_id);
        setHasMore(page.has_more);
      })
      .catch((failure: unknown) => current && setError(messageOf(failure)));
    return () => {
      current = false;
    };
  }, [fetchPage]);

  async function older() {
    try {
      const page = await fetchPage(lastId);
      setEvents((shown) => [...(shown ?? []), ...page.data]);
      setLastId(page.last_id);
      setHasMore(page.has_more);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  function apply(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setFilters({ ...draft });
  }

  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <form className="admin-form filters" onSubmit={apply} role="search" aria-label="Filter the audit log">
        <div className="fields">
          <div>
            <label htmlFor="audit-action">Action starts with</label>
            <input
              id="audit-action"
              placeholder="key."
              autoComplete="off"
              value={draft.action}
              onChange={(event) => setDraft({ ...draft, action: event.target.value })}
            />
          </div>
          <div>
            <label htmlFor="audit-actor">Actor (user id)</label>
            <input
              id="audit-actor"
              autoComplete="off"
              value={draft.actor}
              onChange={(event) => setDraft({ ...draft, actor: event.target.value })}
            />
          </div>
        </div>
        <button type="submit">Filter</button>
      </form>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {events === null ? (
        <p aria-busy="true">Loading the audit log…</p>
      ) : events.length === 0 ? (
        <p className="hint">No events match.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Audit events table">
          <table>
            <caption className="visually-hidden">Audit events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {events.map((event) => (
                <tr key={event.id}>
                  <td>{new Date(event.at).toLocaleString()}</td>
                  <th scope="row">
                    <code>{event.action}</code>
                  </th>
                  <td>{event.outcome}</td>
                  <td>
                    <code>{event.actor_user_id ?? "—"}</code>
                  </td>
                  <td>
                    {event.target_type ? (
                      <>
                        {event.target_type} <code>{event.target_id}</code>
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td className="details">
                    {Object.keys(event.details).length ? (
                      <code>{JSON.stringify(event.details)}</code>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hasMore && (
        <button type="button" className="secondary" onClick={() => void older()}>
          Older events
        </button>
      )}
    </section>
  );
}
