import { useEffect, useState } from "react";
import { listChatModels, type ApiClient, type Model } from "../api/client";

const LAST_MODEL = "homeport.model";

/** The chat and base models the user may pick, and the picked one (remembered). */
export function useModels(client: ApiClient, report: (error: unknown) => void) {
  const [models, setModels] = useState<Model[] | null>(null);
  const [model, setModelState] = useState<string>(() => localStorage.getItem(LAST_MODEL) ?? "");

  useEffect(() => {
    let current = true;
    listChatModels(client)
      .then((found) => {
        if (!current) return;
        setModels(found);
        setModelState((picked) =>
          found.some((m) => m.id === picked) ? picked : (found[0]?.id ?? ""),
        );
      })
      .catch((error: unknown) => {
        if (!current) return;
        setModels([]);
        report(error);
      });
    return () => {
      current = false;
    };
  }, [client, report]);

  function setModel(id: string) {
    localStorage.setItem(LAST_MODEL, id);
    setModelState(id);
  }

  return { models, model, setModel };
}
