import { useCallback, useEffect, useRef } from "react";
import {
  call,
  type ApiClient,
  type AppInspected,
  type AppVersion,
  type User,
} from "../../api/client";
import { followLink, newChatPath, startChat } from "../../router";
import { ErrorMessage } from "../ErrorMessage";
import { useAdminList } from "../admin/useAdminList";
import { AppEvals } from "../evals/AppEvals";
import { AppAvatar } from "./AppAvatar";
import { AppBadges } from "./AppCard";
import { SpecYaml } from "./SpecYaml";
import { Starters } from "./Starters";
import { VersionDiff } from "./VersionDiff";
import { VersionHistory } from "./VersionHistory";

interface Loaded {
  inspected: AppInspected;
  versions: AppVersion[];
}

interface Props {
  name: string;
  client: ApiClient;
  user: User;
  onUnauthorized: (message: string) => void;
  onLeave: () => void;
}

/** One app (/apps/<name>): chat with it, its spec as YAML (read-only: apps change through
 *  `homeport apply`), its versions and the diff between two, for its editors its eval runs
 *  (and running its tests), and for platform admins whether everyone has it. */
export function AppView(props: Props) {
  const { name, client, user } = props;
  const fetchAll = useCallback(async (): Promise<Loaded> => {
    const params = { path: { name } };
    const [inspected, versions] = await Promise.all([
      call(client.GET("/api/v1/apps/{name}", { params })),
      call(client.GET("/api/v1/apps/{name}/versions", { params })),
    ]);
    return { inspected, versions };
  }, [client, name]);
  const { data, error, setError, notice, act } = useAdminList(fetchAll, {
    onUnauthorized: props.onUnauthorized,
  });
  // Arriving from a link, focus moves to the app's name.
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = data !== null;
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);

  if (data === null) {
    return (
      <section className="app-view" aria-labelledby="app-title">
        <BackLink onLeave={props.onLeave} />
        <h1 id="app-title">App</h1>
        {error ? <ErrorMessage>{error}</ErrorMessage> : <p aria-busy="true">Loading the app…</p>}
      </section>
    );
  }

  const { app, yaml, spec } = data.inspected;
  const title = app.display_name || app.name;

  function setPublished(published: boolean) {
    void act(
      () =>
        call(
          client.POST("/api/v1/apps/{name}/publish", {
            params: { path: { name } },
            body: { published },
          }),
        ),
      published ? `${title} is in everyone's app store.` : `${title} is no longer published.`,
    );
  }

  return (
    <section className="app-view" aria-labelledby="app-title">
      <BackLink onLeave={props.onLeave} />
      <header className="app-header">
        <AppAvatar app={app} size="large" />
        <div className="app-header-text">
          <h1 id="app-title" ref={heading} tabIndex={-1}>
            {title}
          </h1>
          <p className="app-id">
            <code>{app.model}</code> · version {app.version}
          </p>
          <AppBadges app={app} user={user} />
          {app.description && <p className="app-description">{app.description}</p>}
        </div>
        <div className="app-header-actions">
          <a
            className="button primary"
            href={newChatPath(app.model)}
            onClick={(event) => followLink(event, newChatPath(app.model))}
            aria-label={`Chat with ${title}`}
          >
            Chat
          </a>
          {user.roles.includes("admin") && (
            <button
              type="button"
              className="secondary"
              onClick={() => setPublished(!app.published)}
              aria-describedby="publish-hint"
            >
              {app.published ? "Unpublish" : "Publish"}
            </button>
          )}
        </div>
      </header>
      {user.roles.includes("admin") && (
        <p id="publish-hint" className="hint">
          {app.published
            ? "Published: everyone signed in finds it in their app store."
            : "Not published: only its owner and those it is shared with can use it."}
        </p>
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
      <Starters
        starters={app.conversation_starters}
        onPick={(starter) => startChat(app.model, starter)}
      />
      <SpecYaml name={app.name} yaml={yaml} />
      <VersionHistory versions={data.versions} />
      <VersionDiff client={client} name={app.name} versions={data.versions} />
      <AppEvals client={client} app={app} spec={spec} onUnauthorized={props.onUnauthorized} />
    </section>
  );
}

function BackLink({ onLeave }: { onLeave: () => void }) {
  return (
    <a
      className="back-link"
      href="/apps"
      onClick={(event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        onLeave();
      }}
    >
      ← All apps
    </a>
  );
}
