import { useState } from "react";
import type { AppInfo, User } from "../../api/client";
import { appsPath, followLink, newChatPath, startChat } from "../../router";
import { AppAvatar } from "./AppAvatar";
import { Starters } from "./Starters";

/** One app in the store: its banner image, avatar, name, description and starters. */
export function AppCard({ app, user }: { app: AppInfo; user: User }) {
  const titleId = `app-${app.name}-title`;
  const name = app.display_name || app.name;
  const page = appsPath(app.name);
  const chat = newChatPath(app.model);


  return (
    <article className="app-card" aria-labelledby={titleId}>
      {app.image && <Banner src={app.image} />}
      <div className="app-card-body">
        <header className="app-card-head">
          <AppAvatar app={app} size="large" />
          <div>
            <h2 id={titleId}>
              <a href={page} onClick={(event) => followLink(event, page)}>
                {name}
              </a>
            </h2>
            <p className="app-id">
              <code>{app.model}</code> · version {app.version}
            </p>
          </div>
        </header>
        <AppBadges app={app} user={user} />
        {app.description && <p className="app-description">{app.description}</p>}
        <Starters
          starters={app.conversation_starters}
          onPick={(starter) => startChat(app.model, starter)}
        />
        <p className="app-card-actions">
          <a
            className="button primary"
            href={chat}
            onClick={(event) => followLink(event, chat)}
            aria-label={`Chat with ${name}`}
          >
            Chat
          </a>
        </p>
      </div>
    </article>
  );
}

/** The app's image across the top of its card; left out when it does not load. */
function Banner({ src }: { src: string }) {
  const [broken, setBroken] = useState(false);
  if (broken) return null;
  return <img className="app-banner" src={src} alt="" onError={() => setBroken(true)} />;
}

/** Whose app it is and whether everyone has it. */
export function AppBadges({ app, user }: { app: AppInfo; user: User }) {
  const yours = app.owner_id === user.id;
  return (
    <p className="app-badges">
      {yours && <span className="badge">Yours</span>}
      {!yours && !app.published && <span className="badge">Shared with you</span>}
      {app.published && <span className="badge ok">Published</span>}
    </p>
  );
}
