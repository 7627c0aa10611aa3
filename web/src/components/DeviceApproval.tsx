import { useState, type FormEvent } from "react";
import type { Credentials } from "../auth";
import { apiClient, call, messageOf } from "../api/client";
import type { components } from "../api/schema";
import { ErrorMessage } from "./ErrorMessage";

type DeviceRequest = components["schemas"]["DeviceRequestOut"];

function codeInAddress(): string {
  return new URLSearchParams(window.location.search).get("code") ?? "";
}

/** The page `homeport login --device` sends people to (/device): check the code the terminal
 *  shows, then approve the sign-in (the device gets an API key of yours) or deny it. */
export function DeviceApproval({ credentials }: { credentials: Credentials }) {
  const [code, setCode] = useState(codeInAddress);
  const [request, setRequest] = useState<DeviceRequest | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const client = apiClient(credentials);

  async function run(action: () => Promise<DeviceRequest>) {
    setBusy(true);
    setError(null);
    try {
      setRequest(await action());
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  function check(event: FormEvent) {
    event.preventDefault();
    if (!code.trim()) {
      setError("Enter the code your terminal shows.");
      return;
    }
    const query = { user_code: code.trim() };
    void run(() => call(client.GET("/api/v1/auth/device/approve", { params: { query } })));
  }

  function decide(approve: boolean) {
    const body = { user_code: code.trim(), approve };
    void run(() => call(client.POST("/api/v1/auth/device/approve", { body })));
  }

  return (
    <main className="centered">
      <div className="card sign-in" aria-labelledby="device-title">
        <h1 id="device-title">Sign in a device</h1>
        {request === null && (
          <form onSubmit={check} noValidate>
            <label htmlFor="device-code">The code your terminal shows</label>
            <input
              id="device-code"
              autoComplete="off"
              spellCheck={false}
              autoFocus
              placeholder="BCDF-GHJK"
              value={code}
              onChange={(event) => setCode(event.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? "device-error" : undefined}
            />
            {error && <ErrorMessage id="device-error">{error}</ErrorMessage>}
            <button type="submit" disabled={busy}>
              {busy ? "Checking…" : "Continue"}
            </button>
          </form>
        )}
        {request?.status === "pending" && (
          <>
            <p>
              Sign in <strong>{request.client_name}</strong> (code <code>{request.user_code}</code>)
              as you?
            </p>
            <p className="hint">
              Approve only if you started this sign-in yourself, just now: the device gets an API
              key that acts as you.
            </p>
            {error && <ErrorMessage>{error}</ErrorMessage>}
            <button type="button" disabled={busy} onClick={() => decide(true)}>
              Approve
            </button>
            <button type="button" className="quiet" disabled={busy} onClick={() => decide(false)}>
              Deny
            </button>
          </>
        )}
        {request?.status === "approved" && (
          <p role="status">
            Approved: {request.client_name} is signed in. You can go back to your terminal.
          </p>
        )}
        {request?.status === "denied" && (
          <p role="status">Denied: {request.client_name} was not signed in.</p>
        )}
        {request !== null && request.status !== "pending" && (
          <a className="button secondary" href="/">
            Go to Homeport
          </a>
        )}
      </div>
    </main>
  );
}
