import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, apiClient, call, messageOf, type AppInfo, type Session } from "../api/client";
import type { Credentials } from "../auth";
import { useApps } from "../hooks/useApps";
import { useAttachments } from "../hooks/useAttachments";
import { useConversation } from "../hooks/useConversation";
import { useKnowledgeBases } from "../hooks/useKnowledgeBases";
import { useModels } from "../hooks/useModels";
import { useSessions } from "../hooks/useSessions";
import { useShortcuts } from "../hooks/useShortcuts";
import {
  appsPath,
  chatIntent,
  chatPath,
  followLink,
  forgetChatIntent,
  sessionIdOf,
  usePath,
} from "../router";
import { AppAvatar } from "./apps/AppAvatar";
import { Composer } from "./Composer";
import { Conversation } from "./Conversation";
import { ErrorMessage } from "./ErrorMessage";
import { KnowledgeChips } from "./KnowledgeChips";
import { KnowledgePicker } from "./KnowledgePicker";
import { ModelPicker } from "./ModelPicker";
import { SessionList } from "./SessionList";
import { ShortcutsDialog } from "./ShortcutsDialog";

interface Props {
  credentials: Credentials;
  onUnauthorized: (message: string) => void;
}

export function ChatPage({ credentials, onUnauthorized }: Props) {
  const client = useMemo(() => apiClient(credentials), [credentials]);
  const [path, navigate] = usePath();
  const sessionId = sessionIdOf(path);
  const [error, setError] = useState<string | null>(null);
  // The knowledge picked for a new chat, until its first message (or file) creates it.
  const [newKnowledge, setNewKnowledge] = useState<string[]>([]);

  const report = useCallback(
    (failure: unknown) => {
      if (failure instanceof ApiError && failure.unauthorized) onUnauthorized(failure.message);
      else setError(messageOf(failure));
    },
    [onUnauthorized],
  );

  const { models, model, setModel } = useModels(client, report);
  const apps = useApps(client, report);
  const sessions = useSessions(client, report);
  const knowledge = useKnowledgeBases(client, report);
  const conversation = useConversation({
    client,
    sessionId,
    newKnowledge,
    report,
    onCreated: (session: Session) => {
      setNewKnowledge([]);
      sessions.added(session);
      navigate(chatPath(session.id));
    },
    onOpened: (session: Session) => {
      if (session.model && models?.some((m) => m.id === session.model)) setModel(session.model);
    },
    onTurnEnded: () => void sessions.reload(),
  });
  const files = useAttachments(sessionId, {
    credentials,
    ensureSession: () => conversation.ensureSession(model || null),
    report,
  });

  // Opened from the app store (`/?model=app/<name>`, maybe with a starter to send): pick the
  // model and send the starter, once. (Sent from a timer that an unmount cancels: React's
  // strict mode mounts twice in development, and unmounting stops a stream.)
  const [intent] = useState(chatIntent);
  const intentDone = useRef(false);
  useEffect(() => {
    if (intent === null) return;
    setModel(intent.model);
    const timer = window.setTimeout(() => {
      if (intentDone.current) return;
      intentDone.current = true;
      forgetChatIntent();
      if (intent.ask) void conversation.send(intent.ask, intent.model);
    }, 0);
    return () => window.clearTimeout(timer);
    // Once, on arrival: the intent is read when the page opens.
  }, []);

  function open(id: string | null) {
    setError(null);
    navigate(chatPath(id));
  }

  const shortcuts = useRef<HTMLDialogElement>(null);
  useShortcuts({
    newChat: () => {
      open(null);
      focusById("message");
    },
    searchChats: () => focusById("chat-search"),
    focusMessage: () => focusById("message"),
    stop: () => {
      if (!conversation.streaming) return false;
      conversation.stop();
      return true;
    },
    showShortcuts: () => shortcuts.current?.showModal(),
  });

  async function remove(id: string) {
    if ((await sessions.remove(id)) && id === sessionId) open(null);
  }

  async function send() {
    setError(null);
    const attached = files.take();
    const names = attached.flatMap((a) => a.names);
    if (!(await conversation.send(conversation.draft, model || null, names))) {
      files.putBack(attached);
    }
  }

  /** The chat's knowledge: saved on its session (PATCH), or kept for a chat not created yet. */
  async function saveKnowledge(ids: string[]): Promise<boolean> {
    const session = conversation.session;
    if (session === null) {
      setNewKnowledge(ids);
      return true;
    }
    try {
      const updated = await call(
        client.PATCH("/api/v1/sessions/{session_id}", {
          params: { path: { session_id: session.id } },
          body: { knowledge: ids },
        }),
      );
      conversation.setSession(updated);
      sessions.replaced(updated);
      return true;
    } catch (failure) {
      report(failure);
      return false;
    }
  }

  const current = sessions.sessions.find((s) => s.id === sessionId);
  const noModels = models !== null && models.length === 0;
  const loadingSession = sessionId !== null && conversation.session === null;
  const chosen = conversation.session?.knowledge ?? (sessionId === null ? newKnowledge : []);
  // The app answering (a session's model follows it once opened; a new chat's is the picked one).
  const app = apps.appOf(model);

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
        search={sessions.search}
        query={sessions.query}
        onSearch={sessions.setSearch}
        onClearSearch={sessions.clearSearch}
      />
      <main className="conversation-pane">
        <div className="conversation-header">
          <div className="conversation-title">
            <h1>{current?.title ?? (sessionId ? "Chat" : "New chat")}</h1>
            {app && <ChatApp app={app} />}
          </div>
          <div className="conversation-tools">
            <KnowledgePicker
              bases={knowledge.bases}
              chosen={chosen}
              onSave={saveKnowledge}
              onOpen={() => void knowledge.reload()}
              disabled={loadingSession || conversation.streaming}
            />
            <ModelPicker
              models={models}
              appOf={apps.appOf}
              value={model}
              onChange={setModel}
              disabled={conversation.streaming}
            />
            <button
              type="button"
              className="shortcuts-button"
              aria-label="Keyboard shortcuts"
              title="Keyboard shortcuts (Ctrl+/)"
              onClick={() => shortcuts.current?.showModal()}
            >
              <span aria-hidden="true">⌨</span>
            </button>
          </div>
          <KnowledgeChips
            bases={knowledge.bases}
            chosen={chosen}
            onRemove={(id) => void saveKnowledge(chosen.filter((other) => other !== id))}
            disabled={conversation.streaming}
          />
        </div>
        <Conversation
          messages={conversation.messages}
          loading={conversation.loading}
          appOf={apps.appOf}
          starters={sessionId === null ? (app?.conversation_starters ?? []) : []}
          onStarter={(starter) => void conversation.send(starter, model || null)}
          onRate={conversation.rate}
          onUnrate={conversation.unrate}
          onRegenerate={
            conversation.streaming ? undefined : (key) => void conversation.regenerate(key)
          }
          credentials={credentials}
          onError={setError}
        />
        {noModels && (
          <ErrorMessage>
            No chat model is available. Start the embedded model or add a provider.
          </ErrorMessage>
        )}
        {error && <ErrorMessage onDismiss={() => setError(null)}>{error}</ErrorMessage>}
        <Composer
          value={conversation.draft}
          onChange={conversation.setDraft}
          onSend={() => void send()}
          onStop={conversation.stop}
          streaming={conversation.streaming}
          disabled={!model}
          attachments={files.attachments}
          onAttach={(picked) => {
            setError(null);
            void files.attach(picked);
          }}
        />
      </main>
      <ShortcutsDialog ref={shortcuts} />
    </div>
  );
}

/** Move the keyboard focus to an element of the page (after the next render, which may
 *  be the one that shows it). */
function focusById(id: string) {
  window.setTimeout(() => document.getElementById(id)?.focus(), 0);
}

/** Who answers in this chat when it is an app: its avatar and name, linking to its page. */
function ChatApp({ app }: { app: AppInfo }) {
  const path = appsPath(app.name);
  return (
    <p className="chat-app">
      <AppAvatar app={app} size="small" />
      <span>
        App:{" "}
        <a href={path} onClick={(event) => followLink(event, path)}>
          {app.display_name || app.name}
        </a>
      </span>
    </p>
  );
}
