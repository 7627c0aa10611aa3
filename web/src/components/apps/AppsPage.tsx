import { useMemo } from "react";
import { apiClient, type User } from "../../api/client";
import type { Credentials } from "../../auth";
import { appNameOf, appsPath, usePath } from "../../router";
import { AppStore } from "./AppStore";
import { AppView } from "./AppView";

interface Props {
  credentials: Credentials;
  user: User;
  onUnauthorized: (message: string) => void;
}

/** Apps (/apps): the app store, and one app (/apps/<name>) with its spec and history. */
export function AppsPage({ credentials, user, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const [path, navigate] = usePath();
  const name = appNameOf(path);

  return (
    <main className="apps-main">
      {name ? (
        <AppView
          key={name}
          name={name}
          client={client}
          user={user}
          onUnauthorized={onUnauthorized}
          onLeave={() => navigate(appsPath(null))}
        />
      ) : (
        <AppStore client={client} user={user} onUnauthorized={onUnauthorized} />
      )}
    </main>
  );
}
