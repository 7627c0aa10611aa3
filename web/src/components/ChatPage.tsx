import { useCallback, useMemo, useState } from "react";
import { ApiError, apiClient, messageOf, type Session } from "../api/client";
import type { Credentials } from "../auth";
import { useConversation } from "../hooks/useConversation";
import { useModels } from "../hooks/useModels";
import { useSessions } from "../hooks/useSessions";
import { chatPath, sessionIdOf, usePath } from "../router";
import { Composer } from "./Composer";
import { Conversation } from "./Conversation";
import { ErrorMessage } from "./ErrorMessage";
import { ModelPicker } from "./ModelPicker";
import { SessionList } from "./SessionList";

interface Props {
  credentials: Credentials;
  onUnauthorized: (message: string) => void;
}

export function ChatPage({ credentials, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const [path, navigate] = usePath();
  const sessionId = sessionIdOf(path);
  const [error, setError] = useState<string | null>(null);

  const report = useCallback(
    (failure: unknown) => {
      if (failure instanceof ApiError && failure.unauthorized) onUnauthorized(failure.message);
      else setError(messageOf(failure));
    },
    [onUnauthorized],
  );

  const { models, model, setModel } = useModels(client, report);
  const sessions = useSessions(client, report);
  const conversation = useConversation({
    client,
    sessionId,
    report,
    onCreated: (session: Session) => {
      sessions.added(session);
      navigate(chatPath(session.id));
    },
    onOpened: (session: Session) => {
      if (session.model && models?.some((m) => m.id === session.model)) setModel(session.model);
    },
    onTurnEnded: () => void sessions.reload(),
  });

  function open(id: string | null) {
    setError(null);
    navigate(chatPath(id));
  }

  async function remove(id: string) {
    if ((await sessions.remove(id)) && id === sessionId) open(null);
  }

  function send() {
    setError(null);
    void conversation.send(conversation.draft, model || null);
  }

  const current = sessions.sessions.find((s) => s.id === sessionId);
  const noModels = models !== null && models.length === 0;

  return (
    <div className="chat">
      <SessionList
        sessions={sessions.sessions}
        currentId={sessionId}
        hasMore={sessions.hasMore}
        onOpen={open}
        onRename={sessions.rename}
        onDelete={remove}
        onLoadMore={() => void sessions.loadMore()}
      />
      <main className="conversation-pane">
        <div className="conversation-header">
          <h1>{current?.title ?? (sessionId ? "Chat" : "New chat")}</h1>
          <ModelPicker
            models={models}
            value={model}
            onChange={setModel}
            disabled={conversation.streaming}
          />
        </div>
        <Conversation messages={conversation.messages} loading={conversation.loading} />
        {noModels && (
          <ErrorMessage>
            No chat model is available. Start the embedded model or add a provider.
          </ErrorMessage>
        )}
        {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
        <Composer
          value={conversation.draft}
          onChange={conversation.setDraft}
          onSend={send}
          onStop={conversation.stop}
          streaming={conversation.streaming}
          disabled={!model}
        />
      </main>
    </div>
  );
}
