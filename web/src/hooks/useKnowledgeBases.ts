import { useCallback, useEffect, useState } from "react";
import { call, type ApiClient } from "../api/client";
import type { KnowledgeBase } from "../components/knowledge/types";

/** The knowledge bases the user may read (`GET /api/v1/knowledge`): null until known. */
export function useKnowledgeBases(client: ApiClient, report: (error: unknown) => void) {
  const [bases, setBases] = useState<KnowledgeBase[] | null>(null);

  const reload = useCallback(async () => {
    try {
      setBases(await call(client.GET("/api/v1/knowledge")));
    } catch (error) {
      setBases((known) => known ?? []);
      report(error);
    }
  }, [client, report]);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { bases, reload };
}
