// Chatting in a session: POST /api/v1/sessions/{id}/messages answers with server-sent events,
// each `data: {chat.completion.chunk}`, ending with `data: [DONE]`. An error after the
// stream started arrives as `data: {"error": {...}}`; the last chunk carries `homeport`, with
// the stored user and assistant messages, and, for an app whose assistant called APIs, those
// calls (`api_calls`).
import { ApiError, call, type ApiCall, type ApiClient, type Message } from "./client";

export type StreamEvent =
  | { type: "text"; text: string }
  | { type: "stored"; user: Message; assistant: Message; apiCalls: ApiCall[] }
  | { type: "error"; message: string };

interface Chunk {
  choices?: { delta?: { content?: string | null } }[];
  error?: { message?: string };
  homeport?: { user_message?: Message; assistant_message?: Message; api_calls?: ApiCall[] };
}

export interface ChatRequest {
  sessionId: string;
  content: string;
  model: string | null;
  signal: AbortSignal;
}

/** Start the turn; throws ApiError when the server refuses it (nothing is stored then). */
export async function sendMessage(
  client: ApiClient,
  request: ChatRequest,
): Promise<AsyncGenerator<StreamEvent>> {
  const body = await call(
    client.POST("/api/v1/sessions/{session_id}/messages", {
      params: { path: { session_id: request.sessionId } },
      body: { content: request.content, model: request.model, stream: true },
      parseAs: "stream",
      signal: request.signal,
    }),
  );
  if (!(body instanceof ReadableStream)) throw new ApiError("The server sent no stream.", 0);
  return turnEvents(dataLines(body as ReadableStream<Uint8Array>));
}

export interface RegenerateRequest {
  sessionId: string;
  /** The session's latest answer, which the new one replaces once it completes. */
  messageId: string;
  signal: AbortSignal;
}

/** Answer the latest question again (POST .../messages/{id}/regenerate), streamed like a
 *  turn; the old answer's model answers. Throws ApiError when the server refuses it. */
export async function regenerateAnswer(
  client: ApiClient,
  request: RegenerateRequest,
): Promise<AsyncGenerator<StreamEvent>> {
  const body = await call(
    client.POST("/api/v1/sessions/{session_id}/messages/{message_id}/regenerate", {
      params: { path: { session_id: request.sessionId, message_id: request.messageId } },
      body: { stream: true },
      parseAs: "stream",
      signal: request.signal,
    }),
  );
  if (!(body instanceof ReadableStream)) throw new ApiError("The server sent no stream.", 0);
  return turnEvents(dataLines(body as ReadableStream<Uint8Array>));
}

async function* turnEvents(lines: AsyncGenerator<string>): AsyncGenerator<StreamEvent> {
  for await (const data of lines) {
    if (data === "[DONE]") return;
    const chunk = JSON.parse(data) as Chunk;
    if (chunk.error) {
      yield { type: "error", message: chunk.error.message ?? "The answer failed." };
      return;
    }
    const text = chunk.choices?.[0]?.delta?.content;
    if (text) yield { type: "text", text };
    const stored = chunk.homeport;
    if (stored?.user_message && stored.assistant_message) {
      yield {
        type: "stored",
        user: stored.user_message,
        assistant: stored.assistant_message,
        apiCalls: stored.api_calls ?? [],
      };
    }
  }
}

/** The `data:` payload of each server-sent event in a byte stream. */
export async function* dataLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = eventData(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data !== null) yield data;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function eventData(block: string): string | null {
  const lines = block
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
  return lines.length ? lines.join("\n") : null;
}
