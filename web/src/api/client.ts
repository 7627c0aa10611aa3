// The typed HTTP client: openapi-fetch over the types generated from Homeport's OpenAPI
// schema (schema.d.ts; regenerate with `make web-schema`).
import createClient from "openapi-fetch";
import { csrfToken, type Credentials } from "../auth";
import type { components, paths } from "./schema";

export type User = components["schemas"]["UserOut"];
export type Session = components["schemas"]["SessionOut"];
export type Message = components["schemas"]["MessageOut"];
export type Citation = components["schemas"]["CitationOut"];
/** The caller's rating of an answer (thumbs up or down, with an optional comment). */
export type MessageFeedback = components["schemas"]["MessageFeedbackOut"];
export type Rating = MessageFeedback["rating"];
export type AuthOptions = components["schemas"]["AuthOptionsOut"];
export type AppInfo = components["schemas"]["AppOut"];
export type AppVersion = components["schemas"]["VersionOut"];
export type AppInspected = components["schemas"]["InspectOut"];
export type Connection = components["schemas"]["ConnectionOut"];
/** An eval run of an app version's tests (/api/v1/evals); its `results` and `comparison` are
 *  free-form objects, typed in components/evals/model.ts. */
export type EvalRun = components["schemas"]["EvalOut"];
export type EvalRate = components["schemas"]["RateOut"];
export type OAuthProvider = components["schemas"]["OAuthProviderOut"];
export type OAuthProviderIn = components["schemas"]["OAuthProviderIn"];

/** One call an app's assistant made to an API, as an answer's `homeport.api_calls` lists it
 *  (the route returns a free-form object, so typed here). */
export interface ApiCall {
  api: string;
  operation: string;
  method: string;
  status: number | null;
  latency_ms: number | null;
  error: string | null;
}

/** An entry of the admins' API call log (/api/v1/api-calls). */
export interface ApiCallEntry extends ApiCall {
  id: string;
  at: string;
  user_id: string | null;
  app: string | null;
  app_version: number | null;
}

export type ApiClient = ReturnType<typeof createClient<paths>>;

/** What /v1/models lists (the route returns a free-form object, so typed here). */
export interface Model {
  id: string;
  owned_by: string;
  homeport?: { kind?: "chat" | "base" | "embedding"; provider?: string };
}

/** An error the UI can show: the server's own message, or why the server was not reached. */
export class ApiError extends Error {
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** A client that signs its requests with an API key, or with the session cookie (plus the
 *  CSRF token on unsafe requests). */
export function apiClient(credentials: Credentials): ApiClient {
  if (credentials.kind === "key") {
    return createClient<paths>({
      baseUrl: window.location.origin,
      headers: { Authorization: `Bearer ${credentials.key}` },
    });
  }
  const client = createClient<paths>({ baseUrl: window.location.origin, credentials: "same-origin" });
  client.use({
    onRequest({ request }) {
      const token = csrfToken();
      if (token && !SAFE_METHODS.has(request.method)) request.headers.set("X-CSRF-Token", token);
      return request;
    },
  });
  return client;
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a call, or an ApiError with the server's message (network errors included). */
export async function call<T>(request: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await request;
  } catch (cause) {
    if (isAbort(cause)) throw cause;
    throw new ApiError("Could not reach the Homeport server. Is it running?", 0);
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiError(errorMessage(result.error, result.response), result.response.status);
  }
  return result.data as T;
}

/** Homeport's errors are OpenAI-shaped: {"error": {"message": ...}}. */
export function errorMessage(body: unknown, response: Response): string {
  if (typeof body === "object" && body !== null && "error" in body) {
    const error = (body as { error: unknown }).error;
    if (typeof error === "object" && error !== null && "message" in error) {
      return String((error as { message: unknown }).message);
    }
  }
  if (typeof body === "string" && body.trim()) return body.trim();
  return `The server answered ${response.status} ${response.statusText}`.trim();
}

export async function listChatModels(client: ApiClient): Promise<Model[]> {
  const body = await call(client.GET("/v1/models"));
  const models = (body as { data?: Model[] }).data ?? [];
  return models.filter((model) => model.homeport?.kind !== "embedding");
}

/** The app a model id names (`app/<name>`, `app/<name>@<version>`, `app/<name>/<assistant>`). */
export function appNameOfModel(model: string | null | undefined): string | null {
  const match = /^app\/([^@/]+)/.exec(model ?? "");
  return match?.[1] ?? null;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}
