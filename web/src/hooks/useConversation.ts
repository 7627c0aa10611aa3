import { useCallback, useEffect, useRef, useState } from "react";
import {
  call,
  isAbort,
  messageOf,
  type ApiCall,
  type ApiClient,
  type Citation,
  type Message,
  type MessageFeedback,
  type Rating,
  type Session,
} from "../api/client";
import { regenerateAnswer, sendMessage } from "../api/stream";

/** A message as shown: stored ones, plus the turn being sent (status "streaming"). */
export interface ShownMessage {
  key: string;
  role: string;
  content: string;
  status: string;
  error: string | null;
  model: string | null;
  /** An answer's sources (they come with the last chunk of a streamed answer). */
  citations: Citation[];
  /** The APIs an app's assistant called for an answer (with the last chunk, too). */
  apiCalls: ApiCall[];
  /** Files attached just before a question was sent (known to this page only). */
  files: string[];
  /** The user's rating of a stored answer, if they rated it. */
  feedback: MessageFeedback | null;
}

interface Options {
  client: ApiClient;
  sessionId: string | null;
  /** The knowledge bases picked for a chat that has no session yet. */
  newKnowledge: string[];
  report: (error: unknown) => void;
  /** A session was created for the first message; the page should show it and go to it. */
  onCreated: (session: Session) => void;
  /** A session was opened: its stored model, if any, becomes the picked one. */
  onOpened: (session: Session) => void;
  /** A turn ended (the session's title and order may have changed). */
  onTurnEnded: () => void;
}

function shown(message: Message, files: string[] = [], apiCalls?: ApiCall[]): ShownMessage {
  const { id, role, content, status, error, model } = message;
  const citations = message.citations ?? [];
  // A stored message may carry its calls too (where the server keeps them).
  const calls = apiCalls ?? (message as { api_calls?: ApiCall[] | null }).api_calls ?? [];
  const feedback = message.feedback ?? null;
  return { key: id, role, content, status, error, model, citations, apiCalls: calls, files, feedback };
}

/** The open session (once loaded) and its messages, the draft being typed, and sending with a
 *  Stop button. */
export function useConversation(options: Options) {
  const { client, sessionId } = options;
  const [session, setSession] = useState<Session | null>(null);
  const [messages, setMessages] = useState<ShownMessage[]>([]);
  const [loading, setLoading] = useState(false);
  const [streaming, setStreaming] = useState(false);
  const [draft, setDraft] = useState("");
  const abort = useRef<AbortController | null>(null);
  const created = useRef<string | null>(null);
  const creating = useRef<Promise<Session> | null>(null);
  const callbacks = useRef(options);
  callbacks.current = options;

  useEffect(() => {
    if (sessionId !== null && sessionId === created.current) {
      created.current = null; // we created it (and may be streaming into it): nothing to load
      return;
    }
    abort.current?.abort();
    setSession(null);
    setMessages([]);
    setLoading(sessionId !== null);
    if (sessionId === null) return;
    let current = true;
    call(client.GET("/api/v1/sessions/{session_id}", { params: { path: { session_id: sessionId } } }))
      .then((session) => {
        if (!current) return;
        setSession(session);
        // Answers that a regenerated one replaced are kept on the server, not shown.
        const kept = (session.messages ?? []).filter((m) => m.status !== "replaced");
        setMessages(kept.map((message) => shown(message)));
        callbacks.current.onOpened(session);
      })
      .catch((error: unknown) => current && callbacks.current.report(error))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [client, sessionId]);

  useEffect(() => () => abort.current?.abort(), []); // leaving the page ends the stream

  const update = (key: string, change: (m: ShownMessage) => ShownMessage) =>
    setMessages((all) => all.map((m) => (m.key === key ? change(m) : m)));

  /** Send `content`; `files` names what was attached for it (shown on the question).
   *  Resolves false when the server refused the message (nothing was stored). */
  async function send(content: string, model: string | null, files: string[] = []) {
    if (abort.current || !content.trim()) return false;
    const controller = new AbortController();
    abort.current = controller;
    setStreaming(true);
    const stamp = Date.now();
    const question: ShownMessage = {
      key: `local-user-${stamp}`,
      role: "user",
      content,
      status: "complete",
      error: null,
      model: null,
      citations: [],
      apiCalls: [],
      files,
      feedback: null,
    };
    const answer: ShownMessage = {
      key: `local-answer-${stamp}`,
      role: "assistant",
      content: "",
      status: "streaming",
      error: null,
      model,
      citations: [],
      apiCalls: [],
      files: [],
      feedback: null,
    };
    let accepted = false;
    try {
      const id = await ensureSession(model);
      setMessages((all) => [...all, question, answer]);
      setDraft("");
      const events = await sendMessage(client, {
        sessionId: id,
        content,
        model,
        signal: controller.signal,
      });
      accepted = true;
      for await (const event of events) {
        if (event.type === "text") {
          update(answer.key, (m) => ({ ...m, content: m.content + event.text }));
        } else if (event.type === "stored") {
          setMessages((all) =>
            all.map((m) =>
              m.key === question.key
                ? shown(event.user, files)
                : m.key === answer.key
                  ? shown(event.assistant, [], event.apiCalls)
                  : m,
            ),
          );
        } else {
          update(answer.key, (m) => ({ ...m, status: "error", error: event.message }));
          callbacks.current.report(new Error(event.message));
        }
      }
      update(answer.key, (m) => (m.status === "streaming" ? { ...m, status: "complete" } : m));
    } catch (error) {
      if (accepted) {
        const stopped = isAbort(error);
        const reason = stopped ? null : messageOf(error);
        update(answer.key, (m) => ({ ...m, status: stopped ? "cancelled" : "error", error: reason }));
      } else {
        // Refused before anything was stored: take the turn back, keep the typed text.
        setMessages((all) => all.filter((m) => m.key !== question.key && m.key !== answer.key));
        setDraft((typed) => typed || content);
      }
      if (!isAbort(error)) callbacks.current.report(error);
    } finally {
      abort.current = null;
      setStreaming(false);
      callbacks.current.onTurnEnded();
    }
    return accepted;
  }

  /** The open session's id; a chat with none gets one (with the model and the knowledge
   *  picked for it) once, however many callers ask at the same time. */
  async function ensureSession(model: string | null): Promise<string> {
    if (sessionId !== null) return sessionId;
    if (created.current !== null) return created.current;
    creating.current ??= createSession(model);
    return (await creating.current).id;
  }

  async function createSession(model: string | null): Promise<Session> {
    const knowledge = callbacks.current.newKnowledge;
    try {
      const made = await call(client.POST("/api/v1/sessions", { body: { model, knowledge } }));
      created.current = made.id;
      setSession(made);
      callbacks.current.onCreated(made);
      return made;
    } finally {
      creating.current = null;
    }
  }

  const stop = useCallback(() => abort.current?.abort(), []);

  /** Answer the latest question again in place of the latest answer (`key`): the new answer
   *  streams where the old one was; if it fails or is stopped, the old one stays (as on the
   *  server, which replaces it only once the new one is complete). */
  async function regenerate(key: string) {
    const id = session?.id ?? sessionId;
    const old = messages.find((m) => m.key === key);
    if (abort.current || id === null || !old) return;
    const controller = new AbortController();
    abort.current = controller;
    setStreaming(true);
    const local = `local-regenerate-${Date.now()}`;
    const fresh = { content: "", status: "streaming", error: null, citations: [], apiCalls: [] };
    setMessages((all) =>
      all.map((m) => (m.key === key ? { ...m, ...fresh, key: local, feedback: null } : m)),
    );
    const restore = () => setMessages((all) => all.map((m) => (m.key === local ? old : m)));
    try {
      const events = await regenerateAnswer(client, {
        sessionId: id,
        messageId: key,
        signal: controller.signal,
      });
      for await (const event of events) {
        if (event.type === "text") {
          update(local, (m) => ({ ...m, content: m.content + event.text }));
        } else if (event.type === "stored") {
          update(local, () => shown(event.assistant, [], event.apiCalls));
        } else {
          restore();
          callbacks.current.report(new Error(event.message));
        }
      }
    } catch (error) {
      restore();
      if (!isAbort(error)) callbacks.current.report(error);
    } finally {
      abort.current = null;
      setStreaming(false);
      callbacks.current.onTurnEnded();
    }
  }

  /** Rate a stored answer, or change its rating; resolves false when the server refused. */
  async function rate(key: string, rating: Rating, comment: string | null) {
    const path = { session_id: session?.id ?? sessionId ?? "", message_id: key };
    try {
      const saved = await call(
        client.PUT("/api/v1/sessions/{session_id}/messages/{message_id}/feedback", {
          params: { path },
          body: { rating, comment },
        }),
      );
      const { updated_at } = saved;
      update(key, (m) => ({ ...m, feedback: { rating, comment: saved.comment, updated_at } }));
      return true;
    } catch (error) {
      callbacks.current.report(error);
      return false;
    }
  }

  /** Take back the rating of an answer. */
  async function unrate(key: string) {
    const path = { session_id: session?.id ?? sessionId ?? "", message_id: key };
    try {
      await call(
        client.DELETE("/api/v1/sessions/{session_id}/messages/{message_id}/feedback", {
          params: { path },
        }),
      );
      update(key, (m) => ({ ...m, feedback: null }));
      return true;
    } catch (error) {
      callbacks.current.report(error);
      return false;
    }
  }

  return {
    session,
    setSession,
    messages,
    loading,
    streaming,
    draft,
    setDraft,
    send,
    stop,
    regenerate,
    ensureSession,
    rate,
    unrate,
  };
}
