import { useCallback } from "react";
import { call, type ApiClient, type User } from "../../api/client";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { AppCard } from "./AppCard";

/** The app store (/apps): a card per app the user may chat with. */
export function AppStore(props: {
  client: ApiClient;
  user: User;
  onUnauthorized: (message: string) => void;
}) {
  const { client, user } = props;
  const fetchApps = useCallback(() => call(client.GET("/api/v1/apps")), [client]);
  const { data, error, setError } = useAdminList(fetchApps, {
    onUnauthorized: props.onUnauthorized,
  });

  return (
    <section className="apps" aria-labelledby="apps-title">
      <h1 id="apps-title">Apps</h1>
      <p className="hint">
        Assistants made for a purpose: a model with its instructions and knowledge. Chat with one,
        or start with one of its questions.
      </p>
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      {data === null ? (
        !error && <p aria-busy="true">Loading apps…</p>
      ) : data.length === 0 ? (
        <p className="hint">
          No apps yet. Apps are YAML files kept in git and added with{" "}
          <code>homeport apply -f app.yaml</code>; they show here for their owner, those they are
          shared with, and everyone once published.
        </p>
      ) : (
        <ul className="app-grid" aria-label="Apps">
          {data.map((app) => (
            <li key={app.name}>
              <AppCard app={app} user={user} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
