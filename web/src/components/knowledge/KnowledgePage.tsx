import { useMemo } from "react";
import { apiClient, type User } from "../../api/client";
import type { Credentials } from "../../auth";
import { knowledgeIdOf, knowledgePath, usePath } from "../../router";
import { KnowledgeBaseView } from "./KnowledgeBaseView";
import { KnowledgeList } from "./KnowledgeList";

interface Props {
  credentials: Credentials;
  user: User;
  onUnauthorized: (message: string) => void;
}

/** Knowledge (/knowledge): the knowledge bases one may read, and one of them
 *  (/knowledge/<id>) with its documents, a question box and its sharing. */
export function KnowledgePage({ credentials, user, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const [path, navigate] = usePath();
  const kbId = knowledgeIdOf(path);

  return (
    <main className="knowledge-main">
      {kbId ? (
        <KnowledgeBaseView
          key={kbId}
          kbId={kbId}
          client={client}
          credentials={credentials}
          user={user}
          onUnauthorized={onUnauthorized}
          onLeave={() => navigate(knowledgePath(null))}
        />
      ) : (
        <KnowledgeList
          client={client}
          user={user}
          onUnauthorized={onUnauthorized}
          onOpen={(id) => navigate(knowledgePath(id))}
        />
      )}
    </main>
  );
}
