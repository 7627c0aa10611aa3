// Uploading files to a knowledge base with progress: fetch() cannot report how much of a
// request body has been sent, so this one call goes through XMLHttpRequest, signed like the
// typed client (API key, or the session cookie plus the CSRF token).
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
  const body = new FormData();
  for (const file of files) body.append("files", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", `/api/v1/knowledge/${encodeURIComponent(kb)}/files`);
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
