import { useState, type FormEvent } from "react";
import { formatTime } from "./format";
import type { RunnerToken } from "./types";

/** Runner tokens: one per runner machine; connected, idle or revoked; Revoke. */
export function RunnerTokens(props: {
  tokens: RunnerToken[];
  onRevoke: (token: RunnerToken) => void;
}) {
  if (props.tokens.length === 0) return <p className="hint">No runner tokens yet.</p>;
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Runner tokens table">
      <table>
        <caption className="visually-hidden">Runner tokens</caption>
        <thead>
          <tr>
            <th scope="col">Runner</th>
            <th scope="col">Prefix</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.tokens.map((token) => (
            <tr key={token.id}>
              <th scope="row">{token.name}</th>
              <td>
                <code>{token.prefix}…</code>
              </td>
              <td>
                <TokenStatus token={token} />
              </td>
              <td>{formatTime(token.created_at)}</td>
              <td>{formatTime(token.last_used_at)}</td>
              <td className="row-actions">
                {!token.revoked_at && (
                  <button
                    type="button"
                    className="danger"
                    aria-label={`Revoke ${token.name}`}
                    onClick={() => props.onRevoke(token)}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TokenStatus({ token }: { token: RunnerToken }) {
  if (token.revoked_at) {
    return <span title={`Revoked ${formatTime(token.revoked_at)}`}>Revoked</span>;
  }
  return token.connected ? <span className="badge ok">Connected</span> : <span>Not connected</span>;
}

/** The form that creates a runner token. */
export function CreateRunnerToken({ onCreate }: { onCreate: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    const created = await onCreate(name.trim());
    setBusy(false);
    if (created) setName("");
  }

  return (
    <form className="admin-form" onSubmit={submit} aria-labelledby="new-runner-token-title">
      <h3 id="new-runner-token-title">Add a runner</h3>
      <div className="fields">
        <div>
          <label htmlFor="runner-token-name">Runner name</label>
          <input
            id="runner-token-name"
            required
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
      </div>
      <p className="hint">
        Lowercase letters, digits, “.”, “_” and “-”; one token per runner.
      </p>
      <button type="submit" disabled={busy || !name.trim()}>
        {busy ? "Creating…" : "Create token"}
      </button>
    </form>
  );
}

/** A token just created: shown once, with the command that starts a runner with it. */
export function NewRunnerToken(props: { token: RunnerToken; secret: string; onDone: () => void }) {
  const command = `homeport runner --control-plane ${window.location.origin} --token ${props.secret}`;
  return (
    <div className="secret" role="region" aria-labelledby="runner-secret-title">
      <h3 id="runner-secret-title">The token for “{props.token.name}”</h3>
      <p>
        <strong>Copy it now: you won't see it again.</strong> Homeport keeps only a hash of it.
      </p>
      <CopyField id="runner-secret" label="New runner token" value={props.secret} />
      <p>Start the runner on its machine with:</p>
      <CopyField id="runner-command" label="Command to start the runner" value={command} />
      <button type="button" className="quiet" onClick={props.onDone}>
        I have saved it
      </button>
    </div>
  );
}

function CopyField(props: { id: string; label: string; value: string }) {
  const [copied, setCopied] = useState(false);

  async function copy() {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }

  return (
    <div className="secret-value">
      <label htmlFor={props.id} className="visually-hidden">
        {props.label}
      </label>
      <input
        id={props.id}
        readOnly
        value={props.value}
        onFocus={(event) => event.target.select()}
      />
      <button
        type="button"
        aria-label={`Copy ${props.label.toLowerCase()}`}
        onClick={() => void copy()}
      >
        {copied ? "Copied" : "Copy"}
      </button>
      <span role="status" className="visually-hidden">
        {copied ? "Copied to the clipboard" : ""}
      </span>
    </div>
  );
}
