import { useCallback, useEffect, useState } from "react";
import { appNameOfModel, call, type ApiClient, type AppInfo } from "../api/client";

/** The apps the user may chat with (`GET /api/v1/apps`), and the one a model id names. */
export function useApps(client: ApiClient, report: (error: unknown) => void) {
  const [apps, setApps] = useState<AppInfo[]>([]);

  useEffect(() => {
    let current = true;
    call(client.GET("/api/v1/apps"))
      .then((found) => current && setApps(found))
      .catch((error: unknown) => current && report(error));
    return () => {
      current = false;
    };
  }, [client, report]);

  const appOf = useCallback(
    (model: string | null | undefined): AppInfo | null => {
      const name = appNameOfModel(model);
      return name === null ? null : (apps.find((app) => app.name === name) ?? null);
    },
    [apps],
  );

  return { apps, appOf };
}
