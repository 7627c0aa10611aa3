import { useState, type FormEvent } from "react";
import { AdminTable, DeleteButton } from "../AdminTable";
import { TextField } from "../TextField";
import { formatTime } from "./format";
import type { RunnerToken } from "./types";

/** Runner tokens: one per runner machine; connected, idle or revoked; Revoke. */
export function RunnerTokens(props: {
  tokens: RunnerToken[];
  onRevoke: (token: RunnerToken) => void;
}) {
  return (
    <AdminTable
      label="Runner tokens"
      columns={["Runner", "Prefix", "Status", "Created", "Last used", "Actions"]}
      items={props.tokens}
      empty="No runner tokens yet."
      row={(token) => (
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
              <DeleteButton
                label={`Revoke ${token.name}`}
                confirm={
                  `Revoke the token of “${token.name}”? ` +
                  "Its runner is disconnected and cannot come back with this token."
                }
                onDelete={() => props.onRevoke(token)}
              >
                Revoke
              </DeleteButton>
            )}
          </td>
        </tr>
      )}
    />
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
        <TextField
          id="runner-token-name"
          label="Runner name"
          required
          autoComplete="off"
          value={name}
          onChange={setName}
        />
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
