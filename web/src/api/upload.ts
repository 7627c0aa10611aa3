// Uploading files with progress (to a knowledge base, or attached to a chat): fetch() cannot
// report how much of a request body has been sent, so these calls go through XMLHttpRequest,
// signed like the typed client (API key, or the session cookie plus the CSRF token).
import { csrfToken, type Credentials } from "../auth";
import { ApiError, errorMessage } from "./client";
import type { components } from "./schema";

export type SourceOut = components["schemas"]["SourceOut"];

/** `POST /api/v1/knowledge/{kb}/files` (multipart, field `files`); `onProgress` gets the share
 *  of the body sent so far (0..1). Resolves with the sources the server created. */
export function uploadFiles(
  credentials: Credentials,
  kb: string,
  files: readonly File[],
  onProgress: (share: number) => void,
  signal?: AbortSignal,
): Promise<SourceOut[]> {
  const path = `/api/v1/knowledge/${encodeURIComponent(kb)}/files`;
  return postFiles(credentials, path, files, onProgress, signal);
}

/** `POST /api/v1/sessions/{id}/files`: files attached to a conversation, indexed for its next
 *  answers (which wait for them). Same shape as `uploadFiles`. */
export function attachFiles(
  credentials: Credentials,
  sessionId: string,
  files: readonly File[],
  onProgress: (share: number) => void,
  signal?: AbortSignal,
): Promise<SourceOut[]> {
  const path = `/api/v1/sessions/${encodeURIComponent(sessionId)}/files`;
  return postFiles(credentials, path, files, onProgress, signal);
}

function postFiles(
  credentials: Credentials,
  path: string,
  files: readonly File[],
  onProgress: (share: number) => void,
  signal?: AbortSignal,
): Promise<SourceOut[]> {
  const body = new FormData();
  for (const file of files) body.append("files", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", path);
  request.responseType = "json";
  if (credentials.kind === "key") {
    request.setRequestHeader("Authorization", `Bearer ${credentials.key}`);
  } else {
    const token = csrfToken();
    if (token) request.setRequestHeader("X-CSRF-Token", token);
  }
  return new Promise((resolve, reject) => {
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve(request.response as SourceOut[]);
        return;
      }
      const response = new Response(null, {
        status: request.status,
        statusText: request.statusText,
      });
      reject(new ApiError(errorMessage(request.response, response), request.status));
    };
    request.onerror = () =>
      reject(new ApiError("Could not reach the Homeport server. Is it running?", 0));
    request.onabort = () => reject(new DOMException("The upload was cancelled", "AbortError"));
    signal?.addEventListener("abort", () => request.abort(), { once: true });
    request.send(body);
  });
}
