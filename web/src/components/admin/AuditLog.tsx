import { useCallback, useEffect, useState, type FormEvent } from "react";
import { call, messageOf, type ApiClient } from "../../api/client";
import type { components } from "../../api/schema";
import { ActionFeedback, AdminTable } from "./AdminTable";
import { TextField } from "./TextField";
import { formatTime } from "./runners/format";

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
          <TextField
            id="audit-action"
            label="Action starts with"
            placeholder="key."
            autoComplete="off"
            value={draft.action}
            onChange={(action) => setDraft({ ...draft, action })}
          />
          <TextField
            id="audit-actor"
            label="Actor (user id)"
            autoComplete="off"
            value={draft.actor}
            onChange={(actor) => setDraft({ ...draft, actor })}
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      <ActionFeedback error={error} onDismiss={() => setError(null)} />
      <AdminTable
        label="Audit events"
        caption="Audit events, newest first"
        loading="the audit log"
        columns={["When", "Action", "Outcome", "Actor", "Target", "Details"]}
        items={events}
        empty="No events match."
        row={(event) => (
          <tr key={event.id}>
            <td>{formatTime(event.at)}</td>
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
        )}
      />
      {hasMore && (
        <button type="button" className="secondary" onClick={() => void older()}>
          Older events
        </button>
      )}
    </section>
  );
}
