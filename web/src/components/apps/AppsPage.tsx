import { useMemo } from "react";
import { apiClient, type User } from "../../api/client";
import type { Credentials } from "../../auth";
import { appNameOf, appsPath, evalRunOf, usePath } from "../../router";
import { EvalRunView } from "../evals/EvalRunView";
import { AppStore } from "./AppStore";
import { AppView } from "./AppView";

interface Props {
  credentials: Credentials;
  user: User;
  onUnauthorized: (message: string) => void;
}

/** Apps (/apps): the app store, one app (/apps/<name>) with its spec, history and eval runs,
 *  and one eval run (/apps/<name>/evals/<run id>). */
export function AppsPage({ credentials, user, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const [path, navigate] = usePath();
  const name = appNameOf(path);
  const evalRun = evalRunOf(path);

  return (
    <main className="apps-main">
      {evalRun ? (
        <EvalRunView
          key={evalRun.runId}
          app={evalRun.app}
          runId={evalRun.runId}
          client={client}
          onUnauthorized={onUnauthorized}
        />
      ) : name ? (
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
