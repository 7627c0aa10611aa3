import { Suspense, lazy, useEffect, useRef } from "react";
import type { AppInfo, Rating } from "../api/client";
import type { Credentials } from "../auth";
import type { ShownMessage } from "../hooks/useConversation";
import { Starters } from "./apps/Starters";
import { AnswerFeedback } from "./AnswerFeedback";
import { ApiCallsList } from "./ApiCallsList";
import { SourcesList } from "./SourcesList";
import { Icon } from "./Icon";

// The Markdown renderer and highlight.js are a chunk of their own, fetched (from Homeport, not
// a CDN) when the first answer is shown; until then the answer shows as plain text.
const AnswerText = lazy(() => import("./AnswerText").then((m) => ({ default: m.AnswerText })));

const STATUS_NOTE: Record<string, string> = {
  cancelled: "Stopped",
  error: "Failed",
};

interface Props {
  messages: ShownMessage[];
  loading: boolean;
  /** The app a model id names, if any: its answers are labelled with its name. */
  appOf: (model: string | null) => AppInfo | null;
  /** Offered while the chat is empty (an app's conversation starters). */
  starters: string[];
  onStarter: (starter: string) => void;
  credentials: Credentials;
  /** A cited source could not be opened. */
  onError: (message: string) => void;
  /** Rate a stored answer (by its key, the message id), or take the rating back. */
  onRate: (key: string, rating: Rating, comment: string | null) => Promise<boolean>;
  onUnrate: (key: string) => Promise<boolean>;
  /** Answer the latest question again (offered under the latest answer; not while one
   *  streams). */
  onRegenerate?: (key: string) => void;
}

// Feather's refresh-cw icon (MIT).
const REFRESH =
  "M23 4v6h-6M1 20v-6h6M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15";

/** The messages, newest last; follows a streaming answer unless the user scrolled up. */
export function Conversation(props: Props) {
  const { messages, loading, appOf, credentials, onError } = props;
  const list = useRef<HTMLOListElement>(null);
  const following = useRef(true);
  const last = messages.at(-1);

  useEffect(() => {
    following.current = true; // a newly opened conversation starts at its end
  }, [loading]);

  useEffect(() => {
    const element = list.current;
    if (element && following.current) element.scrollTop = element.scrollHeight;
  }, [messages.length, last?.content]);

  function onScroll() {
    const element = list.current;
    if (!element) return;
    following.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  }

  if (loading) return <p className="conversation empty">Loading the conversation…</p>;
  if (!messages.length && props.starters.length) {
    return (
      <div className="conversation empty">
        <div className="empty-starters">
          <p>Send a message to start, or try one of these:</p>
          <Starters starters={props.starters} onPick={props.onStarter} />
        </div>
      </div>
    );
  }
  if (!messages.length) {
    return <p className="conversation empty">Pick a model and send a message to start.</p>;
  }
  return (
    <ol
      ref={list}
      className="conversation"
      aria-label="Conversation"
      aria-live="polite"
      onScroll={onScroll}
    >
      {messages.map((message) => (
        <li key={message.key} className={`message ${message.role}`} data-status={message.status}>
          <span className="role">{roleName(message, appOf)}</span>
          {message.files.length > 0 && (
            <ul className="chips" aria-label="Attached files">
              {message.files.map((name) => (
                <li key={name} className="chip">
                  {name}
                </li>
              ))}
            </ul>
          )}
          {message.role === "user" ? (
            <p className="text">{message.content}</p>
          ) : (
            <div className="text markdown" aria-busy={message.status === "streaming"}>
              {message.content ? (
                <Suspense fallback={<p className="plain">{message.content}</p>}>
                  <AnswerText
                    content={message.content}
                    citations={message.citations}
                    credentials={credentials}
                    onError={onError}
                  />
                </Suspense>
              ) : (
                message.status === "streaming" && <p>…</p>
              )}
            </div>
          )}
          <SourcesList citations={message.citations} credentials={credentials} onError={onError} />
          <ApiCallsList calls={message.apiCalls} />
          {message.role !== "user" && (STATUS_NOTE[message.status] || message.model) && (
            <p className="meta">
              {STATUS_NOTE[message.status] && (
                <span>
                  <strong>{STATUS_NOTE[message.status]}</strong>
                  {message.error && `: ${message.error}`}
                </span>
              )}
              {message.model && <span className="model">{message.model}</span>}
            </p>
          )}
          {rateable(message) && (
            <AnswerFeedback
              feedback={message.feedback}
              app={appOf(message.model)}
              onSave={(rating, comment) => props.onRate(message.key, rating, comment)}
              onRemove={() => props.onUnrate(message.key)}
            />
          )}
          {message === last && rateable(message) && props.onRegenerate && (
            <RegenerateButton onClick={() => props.onRegenerate?.(message.key)} />
          )}
        </li>
      ))}
    </ol>
  );
}

function RegenerateButton({ onClick }: { onClick: () => void }) {
  return (
    <button
      type="button"
      className="quiet regenerate"
      aria-label="Regenerate answer"
      title="Regenerate answer: ask the same question again (this answer is replaced)"
      onClick={onClick}
    >
      <Icon path={REFRESH} />
    </button>
  );
}

/** A stored answer (not one still streaming, nor one not yet stored). */
function rateable(message: ShownMessage): boolean {
  const stored = !message.key.startsWith("local-");
  return stored && message.role === "assistant" && message.status !== "streaming";
}

function roleName(message: ShownMessage, appOf: Props["appOf"]): string {
  if (message.role === "user") return "You";
  const app = appOf(message.model);
  return app ? app.display_name || app.name : "Assistant";
}
